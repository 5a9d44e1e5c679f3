#!/usr/bin/env python3
"""Independent reader for TensorBoard event files, for tblog's tests.

Usage: read_events.py FILE            print the scalars as JSON lines
       read_events.py --encode        print the hex of a fixed record

It re-implements CRC32C (Castagnoli, reflected polynomial 0x82F63B78) and
the protobuf subset by hand from the specs, sharing no code with tblog. When
the tensorboard package is importable it also reads FILE with tensorboard's
EventFileLoader and checks that both agree (Debian 12 does not ship it).
"""
import json
import struct
import sys

POLY = 0x82F63B78
TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ POLY if c & 1 else c >> 1
    TABLE.append(c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def varint(b, i):
    shift = result = 0
    while True:
        x = b[i]
        i += 1
        result |= (x & 0x7F) << shift
        shift += 7
        if not x & 0x80:
            return result, i


def fields(b):
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        num, typ = key >> 3, key & 7
        if typ == 0:
            v, i = varint(b, i)
        elif typ == 1:
            v, i = b[i:i + 8], i + 8
        elif typ == 5:
            v, i = b[i:i + 4], i + 4
        elif typ == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise ValueError("wire type %d" % typ)
        yield num, typ, v


def records(path):
    with open(path, "rb") as f:
        b = f.read()
    off = 0
    while off < len(b):
        hdr = b[off:off + 8]
        (n,) = struct.unpack("<Q", hdr)
        (lcrc,) = struct.unpack("<I", b[off + 8:off + 12])
        assert lcrc == masked(hdr), "length crc at %d" % off
        data = b[off + 12:off + 12 + n]
        (dcrc,) = struct.unpack("<I", b[off + 12 + n:off + 16 + n])
        assert dcrc == masked(data), "data crc at %d" % off
        yield data
        off += 16 + n


def scalars(path):
    out, version = [], None
    for data in records(path):
        step, wall, values = 0, None, []
        for num, typ, v in fields(data):
            if num == 1:
                (wall,) = struct.unpack("<d", v)
            elif num == 2:
                step = v
            elif num == 3:
                version = v.decode()
            elif num == 5:
                values += [v2 for n2, _, v2 in fields(v) if n2 == 1]
        for val in values:
            tag, x = None, None
            for n3, _, v3 in fields(val):
                if n3 == 1:
                    tag = v3.decode()
                elif n3 == 2:
                    (x,) = struct.unpack("<f", v3)
            out.append({"tag": tag, "step": step, "value": x, "wall_time": wall})
    assert version == "brain.Event:2", version
    return out


def tensorboard_scalars(path):
    try:
        from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    except ImportError:
        return None
    out = []
    for ev in EventFileLoader(path).Load():
        for v in ev.summary.value:
            x = v.simple_value if v.HasField("simple_value") else float(v.tensor.float_val[0])
            out.append({"tag": v.tag, "step": ev.step, "value": x, "wall_time": ev.wall_time})
    return out


def encode_fixed():
    """Event{wall_time: 1.5, step: 7, summary{value{tag: "loss", simple_value: 0.25}}}."""
    val = b"\x0a\x04loss" + b"\x15" + struct.pack("<f", 0.25)
    summ = b"\x0a" + bytes([len(val)]) + val
    ev = b"\x09" + struct.pack("<d", 1.5) + b"\x10\x07" + b"\x2a" + bytes([len(summ)]) + summ
    hdr = struct.pack("<Q", len(ev))
    return hdr + struct.pack("<I", masked(hdr)) + ev + struct.pack("<I", masked(ev))


def main():
    if sys.argv[1] == "--encode":
        print(encode_fixed().hex())
        return
    ours = scalars(sys.argv[1])
    tb = tensorboard_scalars(sys.argv[1])
    if tb is not None:
        assert [(r["tag"], r["step"], r["value"]) for r in tb] == \
            [(r["tag"], r["step"], r["value"]) for r in ours], "tensorboard disagrees"
        print("# tensorboard EventFileLoader agrees", file=sys.stderr)
    for r in ours:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
