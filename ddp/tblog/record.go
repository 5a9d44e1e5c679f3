package tblog

import (
	"encoding/binary"
	"hash/crc32"
)

// Note [TFRecord framing]: each record is
//
//	uint64  length of data, little-endian
//	uint32  masked CRC32C of those 8 length bytes, little-endian
//	[]byte  data (one serialized Event)
//	uint32  masked CRC32C of data, little-endian
//
// where CRC32C is the Castagnoli CRC and the mask is
// ((crc >> 15) | (crc << 17)) + 0xa282ead8 (mod 2^32), as in TensorFlow's
// core/lib/hash/crc32c.h.

const maskDelta = 0xa282ead8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC returns the masked CRC32C of b.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return (c>>15 | c<<17) + maskDelta
}

// appendRecord appends data framed as one TFRecord to dst.
func appendRecord(dst, data []byte) []byte {
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], uint64(len(data)))
	dst = append(dst, hdr[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, maskedCRC(hdr[:]))
	dst = append(dst, data...)
	return binary.LittleEndian.AppendUint32(dst, maskedCRC(data))
}
