// srp-client: a small SRP client (RFC 9665) written on miekg/dns, to test
// ringdns against DNS code it did not write: miekg builds the UPDATE, the
// Update Lease option and the SIG(0) signature (ECDSAP256SHA256). Built
// offline by the test suite from Debian's golang-github-miekg-dns-dev.
//
// Usage: srp-client -server 127.0.0.1:PORT -key FILE -host NAME -addr IP
//
//	[-service "instance|_type._tcp|port|sub1,sub2|txt"]... [-lease N] [-keylease N]
//	[-corrupt] [-stale]
//
// Prints one line: the rcode, then the granted LEASE and KEY-LEASE when the reply has them.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

type services []string

func (s *services) String() string     { return strings.Join(*s, " ") }
func (s *services) Set(v string) error { *s = append(*s, v); return nil }

// loadKey reads the P-256 key from file, making and saving one the first time.
func loadKey(file string) *ecdsa.PrivateKey {
	if b, err := os.ReadFile(file); err == nil {
		block, _ := pem.Decode(b)
		k, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			fail(err)
		}
		return k
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fail(err)
	}
	der, _ := x509.MarshalECPrivateKey(k)
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		fail(err)
	}
	return k
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "srp-client:", err)
	os.Exit(2)
}

func main() {
	server := flag.String("server", "127.0.0.1:53", "registrar address")
	keyFile := flag.String("key", "srp.key", "P-256 key file (made when missing)")
	zone := flag.String("zone", "default.service.arpa.", "registration zone")
	hostLabel := flag.String("host", "", "host label")
	addr := flag.String("addr", "", "host address (none with -lease 0)")
	lease := flag.Uint("lease", 3600, "LEASE asked for, seconds (0: remove the host)")
	keyLease := flag.Uint("keylease", 86400, "KEY-LEASE asked for, seconds")
	corrupt := flag.Bool("corrupt", false, "flip a bit of the signature")
	stale := flag.Bool("stale", false, "sign with a validity window that ended an hour ago")
	var svcs services
	flag.Var(&svcs, "service", `"instance|_type._tcp|port|sub1,sub2|txt" (repeatable)`)
	flag.Parse()

	priv := loadKey(*keyFile)
	host := dns.Fqdn(*hostLabel + "." + *zone)
	pub := append(priv.PublicKey.X.FillBytes(make([]byte, 32)), priv.PublicKey.Y.FillBytes(make([]byte, 32))...)
	key := &dns.KEY{DNSKEY: dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: host, Rrtype: dns.TypeKEY, Class: dns.ClassINET, Ttl: 120},
		Flags:     0x0201, // what OpenThread and mDNSResponder clients send
		Protocol:  3,
		Algorithm: dns.ECDSAP256SHA256,
		PublicKey: base64.StdEncoding.EncodeToString(pub),
	}}

	m := new(dns.Msg)
	m.SetUpdate(*zone)
	m.Id = dns.Id()
	// the host description: delete all, its KEY, its address
	m.RemoveName([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: host}}})
	m.Insert([]dns.RR{key})
	if *addr != "" {
		rr, err := dns.NewRR(fmt.Sprintf("%s 120 IN %s %s", host, map[bool]string{true: "AAAA", false: "A"}[strings.Contains(*addr, ":")], *addr))
		if err != nil {
			fail(err)
		}
		m.Insert([]dns.RR{rr})
	}
	for _, s := range svcs {
		f := strings.SplitN(s, "|", 5)
		if len(f) != 5 {
			fail(fmt.Errorf("bad -service %q", s))
		}
		typ := dns.Fqdn(f[1] + "." + *zone)
		inst := dns.Fqdn(strings.ReplaceAll(f[0], ".", "\\.") + "." + f[1] + "." + *zone)
		port, _ := strconv.Atoi(f[2])
		m.Insert([]dns.RR{&dns.PTR{Hdr: dns.RR_Header{Name: typ, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 120}, Ptr: inst}})
		for _, sub := range strings.Split(f[3], ",") {
			if sub != "" {
				m.Insert([]dns.RR{&dns.PTR{Hdr: dns.RR_Header{Name: sub + "._sub." + typ, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 120}, Ptr: inst}})
			}
		}
		m.RemoveName([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: inst}}})
		m.Insert([]dns.RR{
			&dns.SRV{Hdr: dns.RR_Header{Name: inst, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 120}, Priority: 0, Weight: 1, Port: uint16(port), Target: host},
			&dns.TXT{Hdr: dns.RR_Header{Name: inst, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 120}, Txt: []string{f[4]}},
		})
	}
	m.SetEdns0(1232, false)
	opt := m.IsEdns0()
	opt.Option = append(opt.Option, &dns.EDNS0_UL{Code: dns.EDNS0UL, Lease: uint32(*lease), KeyLease: uint32(*keyLease)})

	now := time.Now().Unix()
	if *stale {
		now -= 3600
	}
	sig := &dns.SIG{RRSIG: dns.RRSIG{Algorithm: dns.ECDSAP256SHA256, SignerName: host, KeyTag: key.KeyTag(),
		Inception: uint32(now - 300), Expiration: uint32(now + 300)}}
	wire, err := sig.Sign(priv, m)
	if err != nil {
		fail(err)
	}
	if *corrupt {
		wire[len(wire)-1] ^= 1
	}

	conn, err := net.Dial("udp", *server)
	if err != nil {
		fail(err)
	}
	defer conn.Close()
	buf := make([]byte, 65535)
	for try := 0; try < 3; try++ {
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := conn.Write(wire); err != nil {
			fail(err)
		}
		n, err := conn.Read(buf)
		if err != nil {
			continue
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil {
			fail(err)
		}
		out := dns.RcodeToString[r.Rcode]
		if o := r.IsEdns0(); o != nil {
			for _, e := range o.Option {
				if ul, ok := e.(*dns.EDNS0_UL); ok {
					out += fmt.Sprintf(" %d %d", ul.Lease, ul.KeyLease)
				}
			}
		}
		fmt.Println(out)
		return
	}
	fail(fmt.Errorf("no reply from %s", *server))
}
