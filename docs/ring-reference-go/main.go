// Reference implementation of the ringdns ring v2 in Go (docs/hash.md),
// written from the text of docs/hash.md alone, standard library only.
//
//	go run . ../hash-vectors.json                 # checks every vector, prints "ok"
//	go run . --owners MEMBERS.json < keys.txt     # one owner id a line
//
// MEMBERS.json is [{"id": ..., "weight": ...}, ...]; keys.txt has one key a
// line (the labels left of _hash).
package main

import (
	"bufio"
	"bytes"
	"container/heap"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

const (
	pointsPerWeight = 16 // Q
	probeCount      = 21 // K
)

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

var b32hex = base32.HexEncoding.WithPadding(base32.NoPadding)

// keyBytes: the labels left of _hash, joined with '.', ASCII lower-cased; or one b32- label decoded.
func keyBytes(labels string) ([]byte, error) {
	if !strings.Contains(labels, ".") && strings.HasPrefix(lowerASCII(labels), "b32-") {
		return b32hex.DecodeString(strings.ToUpper(labels[4:]))
	}
	return []byte(lowerASCII(labels)), nil
}

// mix is the MurmurHash3 32-bit finalizer.
func mix(x uint32) uint32 {
	x ^= x >> 16
	x *= 0x85ebca6b
	x ^= x >> 13
	x *= 0xc2b2ae35
	x ^= x >> 16
	return x
}

func sequence(digest [32]byte, j uint32) uint32 {
	a := binary.BigEndian.Uint32(digest[0:4])
	b := binary.BigEndian.Uint32(digest[4:8]) | 1
	return mix(a + j*b)
}

func identityBytes(instance string) []byte { return []byte(lowerASCII(instance)) }

func effectiveWeight(w int) int {
	if w == 0 {
		return 1
	}
	return w
}

func instancePoints(instance string, count int) []uint32 {
	seed := sha256.Sum256(append(identityBytes(instance), 0))
	out := make([]uint32, count)
	for j := range out {
		out[j] = sequence(seed, uint32(j))
	}
	return out
}

func keyProbes(key []byte, k int) []uint32 {
	digest := sha256.Sum256(key)
	out := make([]uint32, k)
	for j := range out {
		out[j] = sequence(digest, uint32(j))
	}
	return out
}

type member struct {
	ID     string `json:"id"`
	Weight int    `json:"weight"`
}

type ring struct {
	positions []uint32
	memberOf  []int // index into ids
	ids       []string
	probes    int
}

func newRing(members []member, q int, probes int) *ring {
	type entry struct {
		pos   uint32
		ident []byte
		m     int
	}
	var entries []entry
	ids := make([]string, len(members))
	for m, mem := range members {
		ids[m] = mem.ID
		ident := identityBytes(mem.ID)
		for _, p := range instancePoints(mem.ID, q*effectiveWeight(mem.Weight)) {
			entries = append(entries, entry{p, ident, m})
		}
	}
	// by position, then identity bytes
	sort.SliceStable(entries, func(a, b int) bool {
		if entries[a].pos != entries[b].pos {
			return entries[a].pos < entries[b].pos
		}
		return bytes.Compare(entries[a].ident, entries[b].ident) < 0
	})
	r := &ring{positions: make([]uint32, len(entries)), memberOf: make([]int, len(entries)), ids: ids, probes: probes}
	for i, e := range entries {
		r.positions[i], r.memberOf[i] = e.pos, e.m
	}
	return r
}

// successorIndex: the first point whose position is >= p, wrapping past the last.
func (r *ring) successorIndex(p uint32) int {
	i := sort.Search(len(r.positions), func(i int) bool { return r.positions[i] >= p })
	return i % len(r.positions)
}

func (r *ring) ownerOf(key []byte) string {
	best, bestD := -1, uint32(0)
	for _, p := range keyProbes(key, r.probes) { // in j order: a tie keeps the lower j
		i := r.successorIndex(p)
		d := r.positions[i] - p
		if best < 0 || d < bestD {
			best, bestD = i, d
		}
	}
	return r.ids[r.memberOf[best]]
}

type visit struct {
	d     uint32
	j     int
	steps int
	i     int
	probe uint32
}
type visits []visit

func (h visits) Len() int { return len(h) }
func (h visits) Less(a, b int) bool {
	if h[a].d != h[b].d {
		return h[a].d < h[b].d
	}
	if h[a].j != h[b].j {
		return h[a].j < h[b].j
	}
	return h[a].steps < h[b].steps // ring order from the probe's successor
}
func (h visits) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *visits) Push(x any)   { *h = append(*h, x.(visit)) }
func (h *visits) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// successors walks clockwise from every probe at once, visiting (probe j, point)
// pairs by (distance, j, ring order), and lists each instance at its first visit.
func (r *ring) successors(key []byte, count int) []string {
	n := len(r.positions)
	h := &visits{}
	for j, p := range keyProbes(key, r.probes) {
		i := r.successorIndex(p)
		*h = append(*h, visit{r.positions[i] - p, j, 0, i, p})
	}
	heap.Init(h)
	if count > len(r.ids) {
		count = len(r.ids)
	}
	listed := map[int]bool{}
	out := []string{}
	for h.Len() > 0 && len(out) < count {
		v := heap.Pop(h).(visit)
		if m := r.memberOf[v.i]; !listed[m] {
			listed[m] = true
			out = append(out, r.ids[m])
		}
		if v.steps+1 < n {
			i2 := (v.i + 1) % n
			heap.Push(h, visit{r.positions[i2] - v.probe, v.j, v.steps + 1, i2, v.probe})
		}
	}
	return out
}

type vectors struct {
	Version         int        `json:"version"`
	PointsPerWeight int        `json:"pointsPerWeight"`
	Probes          int        `json:"probes"`
	Mix             [][]string `json:"mix"`
	Keys            []struct {
		Name        string   `json:"name"`
		KeyBytesHex string   `json:"keyBytesHex"`
		Probes      []string `json:"probes"`
	} `json:"keys"`
	InstancePoints []struct {
		Identity string   `json:"identity"`
		Weight   int      `json:"weight"`
		First    []string `json:"first"`
	} `json:"instancePoints"`
	Rings []struct {
		PointsPerWeight int                 `json:"pointsPerWeight"`
		Members         []member            `json:"members"`
		Owners          map[string]string   `json:"owners"`
		Successors      map[string][]string `json:"successors"`
	} `json:"rings"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL "+format+"\n", args...)
	os.Exit(1)
}

func hex8s(xs []uint32) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%08x", x)
	}
	return out
}

func lowerAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strings.ToLower(x)
	}
	return out
}

func mustKey(name string) []byte {
	kb, err := keyBytes(name)
	if err != nil {
		fail("key %q: %v", name, err)
	}
	return kb
}

func parseHex32(s string) uint32 {
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"), 16, 32)
	if err != nil {
		fail("mix value %q: %v", s, err)
	}
	return uint32(v)
}

func checkVectors(path string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		fail("%v", err)
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		fail("%s: %v", path, err)
	}
	if v.Version != 2 || v.Probes != probeCount || v.PointsPerWeight != pointsPerWeight {
		fail("version %d, probes %d, pointsPerWeight %d: want 2, %d, %d", v.Version, v.Probes, v.PointsPerWeight, probeCount, pointsPerWeight)
	}
	for _, pair := range v.Mix {
		if len(pair) != 2 || mix(parseHex32(pair[0])) != parseHex32(pair[1]) {
			fail("mix %v", pair)
		}
	}
	for _, k := range v.Keys {
		kb := mustKey(k.Name)
		if hex.EncodeToString(kb) != strings.ToLower(k.KeyBytesHex) {
			fail("key bytes of %q: got %x, want %s", k.Name, kb, k.KeyBytesHex)
		}
		if got := hex8s(keyProbes(kb, probeCount)); !reflect.DeepEqual(got, lowerAll(k.Probes)) {
			fail("probes of %q: got %v, want %v", k.Name, got, k.Probes)
		}
	}
	for _, ip := range v.InstancePoints {
		count := v.PointsPerWeight * effectiveWeight(ip.Weight)
		n := len(ip.First)
		if n == 0 || n > count {
			fail("instance points of %q: %d given, %d exist", ip.Identity, n, count)
		}
		if got := hex8s(instancePoints(ip.Identity, n)); !reflect.DeepEqual(got, lowerAll(ip.First)) {
			fail("instance points of %q: got %v, want %v", ip.Identity, got, ip.First)
		}
	}
	for _, rv := range v.Rings {
		r := newRing(rv.Members, rv.PointsPerWeight, v.Probes)
		for key, owner := range rv.Owners {
			if got := r.ownerOf(mustKey(key)); got != owner {
				fail("owner of %q on %v: got %s, want %s", key, rv.Members, got, owner)
			}
		}
		for key, succ := range rv.Successors {
			kb := mustKey(key)
			got := r.successors(kb, len(succ))
			if !reflect.DeepEqual(got, succ) {
				fail("successors of %q on %v: got %v, want %v", key, rv.Members, got, succ)
			}
			if got[0] != r.ownerOf(kb) {
				fail("successors of %q start with %s, not the owner", key, got[0])
			}
		}
	}
	fmt.Println("ok")
}

func printOwners(membersPath string) {
	raw, err := os.ReadFile(membersPath)
	if err != nil {
		fail("%v", err)
	}
	var members []member
	if err := json.Unmarshal(raw, &members); err != nil {
		fail("%s: %v", membersPath, err)
	}
	r := newRing(members, pointsPerWeight, probeCount)
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("%v", err)
	}
	lines := strings.Split(string(in), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for _, line := range lines {
		fmt.Fprintln(w, r.ownerOf(mustKey(line)))
	}
}

func main() {
	switch {
	case len(os.Args) == 3 && os.Args[1] == "--owners":
		printOwners(os.Args[2])
	case len(os.Args) == 2 && !strings.HasPrefix(os.Args[1], "--"):
		checkVectors(os.Args[1])
	default:
		fmt.Fprintln(os.Stderr, "usage: ring-reference VECTORS.json | --owners MEMBERS.json < keys")
		os.Exit(2)
	}
}
