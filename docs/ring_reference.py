#!/usr/bin/env python3
"""Reference implementation of the ringdns ring v2 in another language (docs/hash.md).

Written from the text of docs/hash.md alone (stdlib only, Python 3.11):

    python3 docs/ring_reference.py docs/hash-vectors.json   # checks every vector, prints "ok"
    python3 docs/ring_reference.py --owners MEMBERS.json < keys.txt
        # MEMBERS.json: [{"id": ..., "weight": ...}, ...]; keys.txt: one key a line
        # (the labels left of _hash); prints one owner id a line
"""
import base64, bisect, hashlib, heapq, json, sys

MASK = 0xFFFFFFFF
POINTS_PER_WEIGHT = 16  # Q
PROBES = 21  # K


def lower_ascii(s: str) -> str:
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in s)


def key_bytes(labels_left_of_hash: str) -> bytes:
    """The labels left of _hash, joined with '.', ASCII lower-cased; or one b32- label decoded."""
    if "." not in labels_left_of_hash and lower_ascii(labels_left_of_hash).startswith("b32-"):
        b32 = labels_left_of_hash[4:].upper()
        return base64.b32hexdecode(b32 + "=" * (-len(b32) % 8))
    return lower_ascii(labels_left_of_hash).encode("utf-8")


def mix(x: int) -> int:
    """The MurmurHash3 32-bit finalizer."""
    x &= MASK
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & MASK
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & MASK
    x ^= x >> 16
    return x


def sequence(digest: bytes, j: int) -> int:
    a = int.from_bytes(digest[0:4], "big")
    b = int.from_bytes(digest[4:8], "big") | 1
    return mix((a + j * b) & MASK)


def identity_bytes(instance: str) -> bytes:
    return lower_ascii(instance).encode("utf-8")


def effective_weight(weight: int) -> int:
    return 1 if weight == 0 else weight


def instance_points(instance: str, count: int) -> list[int]:
    """point[j] for j = 0 .. count-1 of the instance (count = Q x weight for the ring)."""
    seed = hashlib.sha256(identity_bytes(instance) + b"\x00").digest()
    return [sequence(seed, j) for j in range(count)]


def key_probes(key: bytes, k: int = PROBES) -> list[int]:
    digest = hashlib.sha256(key).digest()
    return [sequence(digest, j) for j in range(k)]


class Ring:
    def __init__(self, members: list[tuple[str, int]], points_per_weight: int = POINTS_PER_WEIGHT, probes: int = PROBES):
        self.probes = probes
        entries = []
        for m, (instance, weight) in enumerate(members):
            ident = identity_bytes(instance)
            for p in instance_points(instance, points_per_weight * effective_weight(weight)):
                entries.append((p, ident, m))
        entries.sort(key=lambda e: (e[0], e[1]))  # by position, then identity bytes
        self.positions = [e[0] for e in entries]
        self.member_of = [e[2] for e in entries]  # index into members
        self.ids = [instance for instance, _ in members]

    def owner_of(self, key: bytes) -> str:
        n = len(self.positions)
        best = None  # (distance, ring index); lower j wins ties because it comes first
        for probe in key_probes(key, self.probes):
            i = bisect.bisect_left(self.positions, probe) % n
            d = (self.positions[i] - probe) & MASK
            if best is None or d < best[0]:
                best = (d, i)
        return self.ids[self.member_of[best[1]]]

    def successors(self, key: bytes, count: int) -> list[str]:
        """Walk clockwise from every probe at once, in order of (distance, j, ring order);
        list each instance the first time one of its points is visited."""
        n = len(self.positions)
        heap = []  # (distance, j, steps taken from the probe's successor, probe)
        for j, probe in enumerate(key_probes(key, self.probes)):
            i = bisect.bisect_left(self.positions, probe) % n
            heap.append(((self.positions[i] - probe) & MASK, j, 0, i, probe))
        heapq.heapify(heap)
        listed, out = set(), []
        while heap and len(out) < min(count, len(self.ids)):
            d, j, steps, i, probe = heapq.heappop(heap)
            m = self.member_of[i]
            if m not in listed:
                listed.add(m)
                out.append(self.ids[m])
            if steps + 1 < n:  # the probe's next point clockwise (ring order, wrapping)
                i2 = (i + 1) % n
                heapq.heappush(heap, ((self.positions[i2] - probe) & MASK, j, steps + 1, i2, probe))
        return out


def hex8(x: int) -> str:
    return f"{x:08x}"


def check_vectors(path: str) -> None:
    v = json.load(open(path, encoding="utf-8"))

    def expect(cond, what):
        if not cond:
            print(f"FAIL {what}", file=sys.stderr)
            sys.exit(1)

    expect(v.get("version") == 2, ("version", v.get("version")))
    expect(v.get("probes") == PROBES, ("probes", v.get("probes")))
    expect(v.get("pointsPerWeight") == POINTS_PER_WEIGHT, ("pointsPerWeight", v.get("pointsPerWeight")))
    for pair in v["mix"]:
        expect(len(pair) == 2 and mix(int(pair[0], 16)) == int(pair[1], 16), ("mix", pair, f"0x{mix(int(pair[0], 16)):08x}"))
    for k in v["keys"]:
        kb = key_bytes(k["name"])
        expect(kb.hex() == k["keyBytesHex"].lower(), ("key bytes", k, kb.hex()))
        got = [hex8(p) for p in key_probes(kb)]
        expect(len(k["probes"]) == PROBES and got == [p.lower() for p in k["probes"]], ("probes", k, got))
    for ip in v["instancePoints"]:
        first = [p.lower() for p in ip["first"]]
        count = v["pointsPerWeight"] * effective_weight(ip["weight"])
        got = [hex8(p) for p in instance_points(ip["identity"], min(len(first), count))]
        expect(0 < len(first) <= count and got == first, ("instance points", ip, got))
    for r in v["rings"]:
        ring = Ring([(m["id"], m["weight"]) for m in r["members"]], r["pointsPerWeight"], v["probes"])
        for key, owner in r.get("owners", {}).items():
            got = ring.owner_of(key_bytes(key))
            expect(got == owner, ("owner", r["members"], key, owner, got))
        for key, succ in r.get("successors", {}).items():
            got = ring.successors(key_bytes(key), len(succ))
            expect(got == succ, ("successors", r["members"], key, succ, got))
            expect(got[0] == ring.owner_of(key_bytes(key)), ("successors[0] is not the owner", key, got))
    print("ok")


def make_vectors(rings: list[tuple[list[tuple[str, int]], list[str], int]], keys: list[str], identities: list[tuple[str, int]], mix_inputs: list[int]) -> dict:
    """Vectors in the shape of docs/hash-vectors.json, computed by this file.
    rings: (members, keys, successors to list) each, at 16 points per weight."""
    out = {
        "description": "ring v2 vectors computed by docs/ring_reference.py (hand-made, to test the references)",
        "version": 2, "pointsPerWeight": POINTS_PER_WEIGHT, "probes": PROBES,
        "mix": [[f"0x{x:08x}", f"0x{mix(x):08x}"] for x in mix_inputs],
        "keys": [{"name": k, "keyBytesHex": key_bytes(k).hex(), "probes": [hex8(p) for p in key_probes(key_bytes(k))]} for k in keys],
        "instancePoints": [{"identity": i, "weight": w, "first": [hex8(p) for p in instance_points(i, POINTS_PER_WEIGHT)]} for i, w in identities],
        "rings": [],
    }
    for members, ring_keys, n in rings:
        ring = Ring(members)
        out["rings"].append({
            "pointsPerWeight": POINTS_PER_WEIGHT,
            "members": [{"id": i, "weight": w} for i, w in members],
            "owners": {k: ring.owner_of(key_bytes(k)) for k in ring_keys},
            "successors": {k: ring.successors(key_bytes(k), n) for k in ring_keys},
        })
    return out


def print_owners(members_path: str) -> None:
    members = json.load(open(members_path, encoding="utf-8"))
    ring = Ring([(m["id"], m["weight"]) for m in members])
    data = sys.stdin.buffer.read().decode("utf-8")
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    sys.stdout.write("".join(ring.owner_of(key_bytes(line)) + "\n" for line in lines))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--owners":
        print_owners(sys.argv[2])
    elif len(sys.argv) == 2 and not sys.argv[1].startswith("--"):
        check_vectors(sys.argv[1])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
