// fakenccl.c: an in-process stand-in for libnccl.so.2, for tests only.
//
// It implements the part of NCCL's C ABI that package nccl uses, on host
// memory, for ranks that are threads of one process: communicators created
// from the same unique id share a clique, and every collective is a
// barrier across the clique's ranks after which the last rank to arrive
// computes the result for all of them. Enum values are those of NCCL's
// nccl.h; reductions run in rank order (bfloat16 is widened to float,
// summed, and rounded to nearest even once).
//
// Knobs, read when a clique is created:
//   FAKE_NCCL_VERSION=22005   what ncclGetVersion reports
//   FAKE_NCCL_HANG=r:s        rank r's s-th collective blocks until its comm is aborted
//   FAKE_NCCL_ASYNC=r:s       like HANG, but first sets the comm's async error (ncclSystemError)
//   FAKE_NCCL_STREAM=0x...    collectives on any other stream fail with ncclInvalidArgument
// Build with -DFAKE_OMIT_ASYNC to leave ncclCommGetAsyncError out.
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct { char internal[128]; } ncclUniqueId;

enum { ok = 0, eCuda = 1, eSystem = 2, eInternal = 3, eInvalidArgument = 4, eInvalidUsage = 5, eRemote = 6 };
enum { kAllReduce, kBroadcast, kAllGather, kReduceScatter };
enum { tInt8 = 0, tUint8, tInt32, tUint32, tInt64, tUint64, tFloat16, tFloat32, tFloat64, tBfloat16 };
enum { oSum = 0, oProd, oMax, oMin, oAvg };

#define MAXR 64

typedef struct { int kind; const void* s; void* r; size_t count; int dt, op, root; } call;

typedef struct clique {
	char id[128];
	int n, joined, broken;
	long gen;
	int arrived;
	call slot[MAXR];
	int res[MAXR];
	int hang_rank, hang_seq, async_rank, async_seq;
	uintptr_t stream;
	int check_stream;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct clique* next;
} clique;

struct ncclComm { clique* c; int rank; long seq; int aborted, async_err; };

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static clique* g_cliques;
static long g_counter;

int ncclGetVersion(int* v) {
	const char* s = getenv("FAKE_NCCL_VERSION");
	*v = s ? atoi(s) : 22005;
	return ok;
}

const char* ncclGetErrorString(int r) {
	switch (r) {
	case ok: return "no error";
	case eCuda: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
	case eSystem: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
	case eInternal: return "internal error - please report this issue to the NCCL developers";
	case eInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
	case eInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
	case eRemote: return "remote process exited or there was a network error";
	}
	return "unknown result code";
}

int ncclGetUniqueId(ncclUniqueId* id) {
	pthread_mutex_lock(&g_mu);
	long k = ++g_counter;
	pthread_mutex_unlock(&g_mu);
	memset(id, 0, sizeof *id);
	snprintf(id->internal, sizeof id->internal, "fakenccl:%d:%ld", (int)getpid(), k);
	return ok;
}

static void knob(const char* name, int* r, int* s) {
	const char* v = getenv(name);
	*r = *s = -1;
	if (v) sscanf(v, "%d:%d", r, s);
}

static clique* find(const ncclUniqueId* id, int n) {
	pthread_mutex_lock(&g_mu);
	clique* c = g_cliques;
	while (c && memcmp(c->id, id->internal, 128) != 0) c = c->next;
	if (!c) {
		c = calloc(1, sizeof *c);
		memcpy(c->id, id->internal, 128);
		c->n = n;
		knob("FAKE_NCCL_HANG", &c->hang_rank, &c->hang_seq);
		knob("FAKE_NCCL_ASYNC", &c->async_rank, &c->async_seq);
		const char* st = getenv("FAKE_NCCL_STREAM");
		if (st) { c->check_stream = 1; c->stream = (uintptr_t)strtoull(st, NULL, 0); }
		pthread_mutex_init(&c->mu, NULL);
		pthread_cond_init(&c->cv, NULL);
		c->next = g_cliques;
		g_cliques = c;
	}
	pthread_mutex_unlock(&g_mu);
	return c;
}

int ncclCommInitRank(struct ncclComm** comm, int n, ncclUniqueId id, int rank) {
	if (!comm || n < 1 || n > MAXR || rank < 0 || rank >= n) return eInvalidArgument;
	clique* c = find(&id, n);
	if (c->n != n) return eInvalidUsage;
	struct ncclComm* m = calloc(1, sizeof *m);
	m->c = c;
	m->rank = rank;
	pthread_mutex_lock(&c->mu);
	if (++c->joined == n) pthread_cond_broadcast(&c->cv);
	while (c->joined < n) pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
	*comm = m;
	return ok;
}

static size_t tsize(int dt) {
	switch (dt) {
	case tInt8: case tUint8: return 1;
	case tFloat16: case tBfloat16: return 2;
	case tInt32: case tUint32: case tFloat32: return 4;
	case tInt64: case tUint64: case tFloat64: return 8;
	}
	return 0;
}

static float bf2f(uint16_t h) { uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }
static uint16_t f2bf(float f) {
	uint32_t u; memcpy(&u, &f, 4);
	if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)(u >> 16) | 0x40;
	return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

#define REDUCE(T, GET, PUT)                                                  \
	for (size_t i = 0; i < cnt; i++) {                                       \
		T a = GET(((const T##_in*)c->slot[0].s)[off + i]);                   \
		for (int k = 1; k < c->n; k++) {                                     \
			T b = GET(((const T##_in*)c->slot[k].s)[off + i]);               \
			switch (op) {                                                    \
			case oSum: case oAvg: a += b; break;                             \
			case oProd: a *= b; break;                                       \
			case oMax: a = b > a ? b : a; break;                             \
			case oMin: a = b < a ? b : a; break;                             \
			}                                                                \
		}                                                                    \
		if (op == oAvg) a /= c->n;                                           \
		((T##_in*)out)[i] = PUT(a);                                          \
	}

typedef float float_in;
typedef double double_in;
typedef int32_t int32_t_in;
typedef int64_t int64_t_in;
typedef uint16_t bf_in;
typedef float bf;
#define ID(x) (x)

// reduce writes elements [off, off+cnt) of the reduction into out.
static int reduce(clique* c, int dt, int op, size_t off, size_t cnt, void* out) {
	switch (dt) {
	case tFloat32: REDUCE(float, ID, ID) break;
	case tFloat64: REDUCE(double, ID, ID) break;
	case tInt32: REDUCE(int32_t, ID, ID) break;
	case tInt64: REDUCE(int64_t, ID, ID) break;
	case tBfloat16: REDUCE(bf, bf2f, f2bf) break;
	default: return eInvalidArgument;
	}
	return ok;
}

// compute runs the collective every rank has posted. Caller holds c->mu.
static int compute(clique* c) {
	call* a = &c->slot[0];
	for (int k = 1; k < c->n; k++) {
		call* b = &c->slot[k];
		if (b->kind != a->kind || b->count != a->count || b->dt != a->dt || b->op != a->op || b->root != a->root)
			return eInvalidUsage;
	}
	size_t es = tsize(a->dt), n = a->count;
	int r = ok;
	void* tmp;
	switch (a->kind) {
	case kAllReduce:
		tmp = malloc(n * es + 1);
		r = reduce(c, a->dt, a->op, 0, n, tmp);
		for (int k = 0; r == ok && k < c->n; k++) memcpy(c->slot[k].r, tmp, n * es);
		break;
	case kBroadcast:
		tmp = malloc(n * es + 1);
		memcpy(tmp, c->slot[a->root].s, n * es);
		for (int k = 0; k < c->n; k++) memcpy(c->slot[k].r, tmp, n * es);
		break;
	case kAllGather:
		tmp = malloc(c->n * n * es + 1);
		for (int k = 0; k < c->n; k++) memcpy((char*)tmp + k * n * es, c->slot[k].s, n * es);
		for (int k = 0; k < c->n; k++) memcpy(c->slot[k].r, tmp, c->n * n * es);
		break;
	case kReduceScatter:
		tmp = malloc(c->n * n * es + 1);
		r = reduce(c, a->dt, a->op, 0, c->n * n, tmp);
		for (int k = 0; r == ok && k < c->n; k++) memcpy(c->slot[k].r, (char*)tmp + k * n * es, n * es);
		break;
	default:
		return eInternal;
	}
	free(tmp);
	return r;
}

static int collective(struct ncclComm* m, call x, uintptr_t stream) {
	if (!m) return eInvalidArgument;
	clique* c = m->c;
	if (tsize(x.dt) == 0 || x.dt > tBfloat16) return eInvalidArgument;
	if ((x.kind == kAllReduce || x.kind == kReduceScatter) && (x.op < oSum || x.op > oAvg)) return eInvalidArgument;
	if (x.kind == kBroadcast && (x.root < 0 || x.root >= c->n)) return eInvalidArgument;
	if (c->check_stream && stream != c->stream) return eInvalidArgument;
	pthread_mutex_lock(&c->mu);
	if (m->aborted || c->broken) {
		pthread_mutex_unlock(&c->mu);
		return eRemote;
	}
	m->seq++;
	int hang = m->rank == c->hang_rank && m->seq == c->hang_seq;
	if (m->rank == c->async_rank && m->seq == c->async_seq) {
		m->async_err = eSystem;
		hang = 1;
	}
	if (hang) {
		while (!m->aborted) pthread_cond_wait(&c->cv, &c->mu);
		pthread_mutex_unlock(&c->mu);
		return eSystem;
	}
	long g = c->gen;
	c->slot[m->rank] = x;
	if (++c->arrived == c->n) {
		int r = compute(c);
		for (int k = 0; k < c->n; k++) c->res[k] = r;
		c->arrived = 0;
		c->gen++;
		pthread_cond_broadcast(&c->cv);
	} else {
		while (c->gen == g && !c->broken) pthread_cond_wait(&c->cv, &c->mu);
		if (c->gen == g) {
			m->async_err = eRemote;
			pthread_mutex_unlock(&c->mu);
			return eRemote;
		}
	}
	int r = c->res[m->rank];
	pthread_mutex_unlock(&c->mu);
	return r;
}

int ncclAllReduce(const void* s, void* r, size_t n, int dt, int op, struct ncclComm* m, void* st) {
	return collective(m, (call){kAllReduce, s, r, n, dt, op, 0}, (uintptr_t)st);
}
int ncclBroadcast(const void* s, void* r, size_t n, int dt, int root, struct ncclComm* m, void* st) {
	return collective(m, (call){kBroadcast, s, r, n, dt, 0, root}, (uintptr_t)st);
}
int ncclAllGather(const void* s, void* r, size_t n, int dt, struct ncclComm* m, void* st) {
	return collective(m, (call){kAllGather, s, r, n, dt, 0, 0}, (uintptr_t)st);
}
int ncclReduceScatter(const void* s, void* r, size_t n, int dt, int op, struct ncclComm* m, void* st) {
	return collective(m, (call){kReduceScatter, s, r, n, dt, op, 0}, (uintptr_t)st);
}

int ncclCommAbort(struct ncclComm* m) {
	if (!m) return eInvalidArgument;
	pthread_mutex_lock(&m->c->mu);
	m->aborted = 1;
	m->c->broken = 1;
	pthread_cond_broadcast(&m->c->cv);
	pthread_mutex_unlock(&m->c->mu);
	return ok; // the comm is leaked on purpose: a blocked call may still hold it
}

int ncclCommDestroy(struct ncclComm* m) {
	if (!m) return eInvalidArgument;
	pthread_mutex_lock(&m->c->mu);
	m->aborted = 1;
	pthread_mutex_unlock(&m->c->mu);
	return ok;
}

#ifndef FAKE_OMIT_ASYNC
int ncclCommGetAsyncError(struct ncclComm* m, int* e) {
	if (!m || !e) return eInvalidArgument;
	pthread_mutex_lock(&m->c->mu);
	*e = m->async_err;
	pthread_mutex_unlock(&m->c->mu);
	return ok;
}
#endif
