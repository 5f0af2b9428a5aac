#!/usr/bin/env python3
"""Reference implementation of the ringdns ring in another language (docs/hash.md).

    python3 docs/ring_reference.py docs/hash-vectors.json   # checks every vector, prints "ok"
"""
import base64, bisect, hashlib, json, sys

def lower_ascii(s: str) -> str:
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in s)

def key_bytes(labels_left_of_hash: str) -> bytes:
    """The labels left of _hash, joined with '.', ASCII lower-cased; or one b32- label decoded."""
    if "." not in labels_left_of_hash and lower_ascii(labels_left_of_hash).startswith("b32-"):
        b32 = labels_left_of_hash[4:].upper()
        return base64.b32hexdecode(b32 + "=" * (-len(b32) % 8))
    return lower_ascii(labels_left_of_hash).encode("utf-8")

def position(data: bytes) -> int:
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")

def instance_points(identity: str, count: int) -> list[int]:
    ident = identity.encode("utf-8")
    points = []
    block = 0
    while len(points) < count:
        digest = hashlib.sha256(ident + b"\x00" + block.to_bytes(4, "big")).digest()
        points += [int.from_bytes(digest[i:i + 8], "big") for i in range(0, 32, 8)]
        block += 1
    return points[:count]

def effective_weight(weight: int) -> int:
    return min(max(1, weight), 64)

class Ring:
    def __init__(self, members: list[tuple[str, int]], points_per_weight: int = 1024):
        entries = []
        for identity, weight in members:
            for p in instance_points(identity, points_per_weight * effective_weight(weight)):
                entries.append((p, identity.encode("utf-8"), identity))
        entries.sort()  # by position, then identity bytes
        self.positions = [e[0] for e in entries]
        self.owners = [e[2] for e in entries]

    def owner_of(self, key: bytes) -> str:
        i = bisect.bisect_left(self.positions, position(key))
        return self.owners[i % len(self.owners)]

if __name__ == "__main__":
    vectors = json.load(open(sys.argv[1]))
    for k in vectors["keys"]:
        kb = key_bytes(k["name"])
        assert kb.hex() == k["keyBytesHex"], k
        assert f"{position(kb):016x}" == k["position"], k
    ip = vectors["instancePoints"]
    assert [f"{p:016x}" for p in instance_points(ip["identity"], len(ip["first8"]))] == ip["first8"]
    for r in vectors["rings"]:
        ring = Ring([(m["id"], m["weight"]) for m in r["members"]], r["pointsPerWeight"])
        for key, owner in r["owners"].items():
            assert ring.owner_of(key.encode()) == owner, (key, owner)
    print("ok")
