#!/usr/bin/python3
"""A DSO (RFC 8490) client written apart from ringdns: Python's ssl and struct.

  dso_client.py PORT MODE [tls|tcp] [CAFILE]
    keepalive   Keepalive request (inactivity 5 s, interval 1 s) plus Padding;
                prints the response's id, rcode and Keepalive values
    unknown     a request whose primary TLV is an unassigned type
    malformed   a Keepalive TLV that claims more bytes than the message has
    idle        establish a session, then send nothing; print what arrives
                (a Retry Delay) and whether the server closed within 30 s
Each prints one JSON line.
"""
import json, socket, ssl, struct, sys

port, mode = int(sys.argv[1]), sys.argv[2]
transport = sys.argv[3] if len(sys.argv) > 3 else "tls"
raw = socket.create_connection(("127.0.0.1", port), timeout=15)
if transport == "tls":
    ctx = ssl.create_default_context(cafile=sys.argv[4]) if len(sys.argv) > 4 else ssl._create_unverified_context()
    sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
else:
    sock = raw

def send(msg):
    sock.sendall(struct.pack("!H", len(msg)) + msg)

def recv_exact(n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            return None
        out += chunk
    return out

def recv():
    head = recv_exact(2)
    if head is None:
        return None
    return recv_exact(struct.unpack("!H", head)[0])

def dso(msg_id, tlvs, flags=6 << 11):
    body = b"".join(struct.pack("!HH", t, len(d)) + d for t, d in tlvs)
    return struct.pack("!HHHHHH", msg_id, flags, 0, 0, 0, 0) + body

def parse(m):
    msg_id, flags = struct.unpack("!HH", m[:4])
    tlvs, p = [], 12
    while p + 4 <= len(m):
        t, l = struct.unpack("!HH", m[p:p + 4])
        tlvs.append((t, m[p + 4:p + 4 + l]))
        p += 4 + l
    out = {"id": msg_id, "qr": bool(flags & 0x8000), "opcode": (flags >> 11) & 15, "rcode": flags & 15, "tlvs": []}
    for t, d in tlvs:
        if t == 1 and len(d) == 8:
            out["tlvs"].append({"keepalive": struct.unpack("!II", d)})
        elif t == 2 and len(d) == 4:
            out["tlvs"].append({"retryDelay": struct.unpack("!I", d)[0]})
        else:
            out["tlvs"].append({"type": t, "length": len(d)})
    return out

def closed_after(seconds):
    sock.settimeout(seconds)
    try:
        return recv() is None
    except (socket.timeout, TimeoutError):
        return False
    except (ConnectionResetError, ssl.SSLError):
        return True

keepalive = (1, struct.pack("!II", 5000, 1000))
if mode == "keepalive":
    send(dso(0x2a2a, [keepalive, (3, b"\0" * 11)]))
    print(json.dumps(parse(recv())))
elif mode == "unknown":
    send(dso(0x0b0b, [(0xF901, b"hello")]))
    r = parse(recv())
    r["closed"] = closed_after(0.5)
    print(json.dumps(r))
elif mode == "malformed":
    # a Keepalive TLV claiming 200 bytes, 8 sent
    send(struct.pack("!HHHHHH", 0x0C0C, 6 << 11, 0, 0, 0, 0) + struct.pack("!HH", 1, 200) + b"\0" * 8)
    r = parse(recv())
    r["closed"] = closed_after(3)
    print(json.dumps(r))
elif mode == "idle":
    send(dso(0x0d0d, [keepalive]))
    parse(recv())
    sock.settimeout(30)
    seen, closed = [], False
    while True:
        try:
            m = recv()
        except (ConnectionResetError, ssl.SSLError):
            m = None
        except (socket.timeout, TimeoutError):
            break
        if m is None:
            closed = True
            break
        seen.append(parse(m))
    print(json.dumps({"seen": seen, "closed": closed}))
