// Package hccl is the start of the Intel Gaudi backend of package
// collective: it finds Habana's HCCL at run time (dlopen, no headers at
// build time) and records the ABI facts a Comm needs. It does not yet
// implement collective.Comm and does not register a backend: there is no
// Gaudi machine to prove one on, and a backend that fails at its first
// collective is worse than none (ddprun falls back to the ring).
//
// # What HCCL's C API is
//
// Habana's hccl.h (github.com/HabanaAI/HCL, hcl/include/hccl.h and
// hccl_types.h, HCCL 2.6.4) mirrors NCCL's: hcclGetVersion,
// hcclGetUniqueId, hcclCommInitRank(comm*, nranks, hcclUniqueId, rank),
// hcclAllReduce(send, recv, count, hcclDataType_t, hcclRedOp_t, comm,
// void* stream), hcclBroadcast, hcclAllGather, hcclReduceScatter,
// hcclCommAbort, hcclCommDestroy, hcclCommGetAsyncError,
// hcclGetErrorString. The streams are Synapse streams (synStreamHandle);
// synStreamSynchronize waits for one. The differences that matter:
//
//   - hcclUniqueId is {uint8_t internal[1024]; size_t length;}: 1032 bytes
//     on x86-64, passed by value, not NCCL's 128.
//   - hcclRedOp_t swaps Min and Max: hcclMin = 2, hcclMax = 3 (NCCL has
//     ncclMax = 2, ncclMin = 3), despite the header's "aligned to
//     ncclRedOp_t". Sum 0, Prod 1, Avg 4 agree.
//   - hcclDataType_t matches ncclDataType_t (Int32 2, Int64 4, Float16 6,
//     Float32 7, Bfloat16 9).
//   - hcclResult_t differs from ncclResult_t after success (0):
//     hcclNoDeviceFound 1, hcclUnsupported 2, ..., hcclInvalidArgument 7.
//   - HCCL_VERSION(X,Y,Z) is X*1000+Y*100+Z.
//   - The library is libhcl.so in /usr/lib/habanalabs; the hccl* entry
//     points are also exported by libSynapse.so, which the Habana PyTorch
//     bridge loads. Probe tries DDPRUN_HCCL_LIB, then libSynapse.so, then
//     libhcl.so (with and without /usr/lib/habanalabs/).
//
// Huawei's Ascend library is also called HCCL but is a different API
// (HcclCommInitRootInfo, HcclDataType with FP32 = 4); this package is
// about Habana's.
//
// # oneCCL
//
// oneCCL's supported API (2021 onwards, oneapi/ccl.hpp) is C++ only:
// templates, std::vector and ccl::communicator objects, with no extern "C"
// entry points to dlsym. Its 2019-2020 releases had a C API (ccl.h:
// ccl_allreduce, ccl_comm_create, ...) that was removed (oneCCL's own
// tests/unit/api/stubs/ccl.cpp keeps it commented out). A oneCCL backend
// would need a C++ shim library built against a oneCCL installation; this
// project does not have one.
//
// # What a Comm needs
//
// The shape of collective/nccl, with: a Bootstrap for the 1032-byte id;
// the enum maps above; Device HPU buffers and a synStreamHandle from the
// Habana bridge in place of the CUDA stream; synStreamQuery (or
// synStreamSynchronize on a goroutine) in place of cudaStreamQuery; and a
// fake libhccl built by the test, like collective/nccl's.
package hccl
