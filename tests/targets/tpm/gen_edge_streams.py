# Generates tpm_edge_streams.h: python3 gen_edge_streams.py > tpm_edge_streams.h
# Crafted command streams (good and malformed) for test_tpm_diff.c; a
# leading "!" keeps the bytes raw, otherwise the size field is patched.
def pw(p=""):
    body = "40000009" + "0000" + "01" + "%04x" % (len(p)//2) + p
    return "%08x" % (len(body)//2) + body
def sess(handle, nonce="", attrs="01", hmac=""):
    return handle + "%04x" % (len(nonce)//2) + nonce + attrs + "%04x" % (len(hmac)//2) + hmac
def area(*ss):
    b = "".join(ss); return "%08x" % (len(b)//2) + b
def c(tag, cc, rest=""):
    return tag + "00000000" + cc + rest
NS, S = "8001", "8002"
SHA1 = "0004"; SHA256 = "000b"
d20 = "11"*20; d32 = "22"*32
def extend(pcr, auth=None, digests=None):
    digests = digests if digests is not None else "00000002" + SHA1 + d20 + SHA256 + d32
    return c(S, "00000182", "%08x" % pcr + (auth or pw()) + digests)
def nvpub(index="01500016", alg=SHA256, attrs="00020002", policy="0000", size="0020"):
    b = index + alg + attrs + policy + size
    return "%04x" % (len(b)//2) + b
def define(owner="40000001", auth="0000", pub=None, a=None):
    return c(S, "0000012a", owner + (a or pw()) + auth + (pub or nvpub()))
def nvwrite(authh="40000001", idx="01500016", data="33"*8, off="0000", a=None):
    return c(S, "00000137", authh + idx + (a or pw()) + "%04x" % (len(data)//2) + data + off)
def nvread(authh="40000001", idx="01500016", size="0008", off="0000", a=None):
    return c(S, "0000014e", authh + idx + (a or pw()) + size + off)
def getcap(cap, prop, count):
    return c(NS, "0000017a", "%08x%08x%08x" % (cap, prop, count))
def pcrread(sel):
    return c(NS, "0000017e", sel)
def sas(key="40000007", bind="40000007", nonce="aa"*16, salt="", se="00", sym="0010", h=SHA256):
    return c(NS, "00000176", key + bind + "%04x" % (len(nonce)//2) + nonce + "%04x" % (len(salt)//2) + salt + se + sym + h)

header = [
    "!", "!80", "!8001000000", "!800100000009000001", "!80010000000a0000",
    "!00c10000000a00000000", "80030000000a0000017b", "!8001000000100000017b0010",
    "!8001000000080000017b0010", c(NS, "0000019f"), c(NS, "20000000"),
    c(NS, "0000017b"), c(NS, "0000017b", "0010aa"), c(NS, "0000017b", "0100"),
    c(NS, "0000017b", "00"),
]
cap = [getcap(0, 0, 100), getcap(0, 0xb, 1), getcap(1, 0, 5), getcap(1, 0x16, 10),
       getcap(1, 0x40000000, 20), getcap(1, 0x05000000, 1), getcap(1, 0x02000000, 5),
       getcap(1, 0x01000000, 5), getcap(2, 0x17a, 3), getcap(5, 0, 1), getcap(5, 1, 1),
       getcap(6, 0, 3), getcap(6, 0x12d, 5), getcap(6, 0x1ff, 5), getcap(6, 0x300, 5),
       getcap(6, 0x100, 0), getcap(6, 0x100, 1000), getcap(11, 0, 1), getcap(0x100, 0, 1),
       getcap(10, 0, 1), getcap(9, 0x01000000, 1), c(NS, "0000017a", "00000006"),
       getcap(6, 0x200, 2)]
pcr = [pcrread("00000001" + SHA256 + "03ffffff"), pcrread("00000002" + SHA1 + "03ffff00" + SHA256 + "03ffff00"),
       pcrread("00000005" + (SHA1 + "03010000")*5), pcrread("00000001" + SHA1 + "020100"),
       pcrread("00000001" + SHA1 + "0401000000"), pcrread("00000001" + "0010" + "03010000"),
       pcrread("00000001" + "0099" + "03010000"), pcrread("00000001" + "000c" + "03010000"),
       pcrread("00000000"), pcrread("00000001" + SHA1 + "03"),
       extend(0), extend(7), extend(16), extend(23), extend(17), extend(24), extend(0x40000007),
       extend(0x40000001), c(NS, "00000182", "00000000" + "00000000"),
       extend(0, digests="00000005"), extend(0, digests="00000001" + "0010" + d20),
       extend(0, digests="00000001" + SHA256 + d20), extend(0, digests="00000000"),
       extend(0, digests="00000001" + "000c" + "44"*48),
       extend(0, auth=pw("41")), extend(0, auth="00000008" + "4000000900000100"),
       extend(0, auth="000000ff" + "40000009000001000000"),
       extend(0, auth=area(sess("40000008"))), extend(0, auth=area(sess("02000000"))),
       extend(0, auth=area(sess("40000009", nonce="aa"))), extend(0, auth=area(sess("40000009", attrs="09"))),
       extend(0, auth=area(sess("40000009", attrs="80"))), extend(0, auth=area(sess("40000009", attrs="00"))),
       extend(0, auth=area(sess("40000009", attrs="20"))),
       extend(0, auth=area(sess("40000009"), sess("40000009"))),
       extend(0, auth=area(*[sess("40000009")]*4)), extend(0, auth="00000000"),
       extend(0, auth=area(sess("40000009", hmac="00"))),
       pcrread("00000002" + SHA1 + "03ffffff" + SHA256 + "03ffffff"),
       c(S, "0000013c", "00000000" + pw() + "0005" + "6576656e74"),
       c(S, "0000013c", "40000007" + pw() + "0003" + "616263"),
       c(S, "0000013c", "00000011" + pw() + "0003" + "616263"),
       c(S, "0000013c", "00000000" + pw() + "0401" + "00"*1025),
       c(S, "0000013d", "00000010" + pw()), c(S, "0000013d", "00000000" + pw()),
       c(S, "0000013d", "00000017" + pw()), c(S, "0000013d", "40000007" + pw()),
       pcrread("00000002" + SHA1 + "03ffffff" + SHA256 + "03ffffff"),
       c(NS, "0000017d", "0003616263" + SHA256 + "40000007"),
       c(NS, "0000017d", "0003616263" + SHA1 + "40000007"),
       c(NS, "0000017d", "0003616263" + "0010" + "40000007"),
       c(NS, "0000017d", "0003616263" + SHA256 + "40000009"),
       c(NS, "0000017d", "0003616263" + SHA256 + "40000001"),
       c(NS, "0000017d", "0401" + "00"*1025 + SHA256 + "40000007"),
       c(NS, "00000146", "0004" + "01020304"), c(NS, "00000146", "0081" + "00"*129),
       c(NS, "00000146", "0080" + "00"*128),
       c(NS, "00000143", "01"), c(NS, "00000143", "02"), c(NS, "00000142", "00000000"),
       c(NS, "00000142", "00000001" + SHA1), c(NS, "00000142", "00000041"),
       c(NS, "0000017c"), c(NS, "00000181"),
       ]
nv = [c(NS, "00000169", "01500016"), c(NS, "00000169", "40000001"),
      define(), define(), c(NS, "00000169", "01500016"), nvread(), nvwrite(), nvread(),
      nvread(size="0020"), nvread(size="0021"), nvread(off="0021"), nvread(size="0401"),
      nvwrite(off="0019"), nvwrite(off="0021"), nvwrite(data="33"*33),
      nvwrite(authh="01500016"), nvread(authh="01500016"), nvread(authh="40000007"),
      nvwrite(authh="4000000c"), c(NS, "00000169", "01500016"),
      define(pub=nvpub(index="01500017", attrs="00060006"), auth="0003616263"),
      nvwrite(authh="01500017", idx="01500017", a=pw("616263")),
      nvwrite(authh="01500017", idx="01500017", a=pw("616264")),
      nvread(authh="01500017", idx="01500017", a=pw("616263")),
      define(pub=nvpub(index="01500018", attrs="00060016", size="0008")),
      c(S, "00000134", "40000001" + "01500018" + pw()), c(S, "00000134", "40000001" + "01500016" + pw()),
      c(S, "00000134", "40000001" + "01500018" + pw()),
      nvread(idx="01500018"), nvwrite(idx="01500018"),
      define(pub=nvpub(index="01500019", attrs="00060016", size="0004")),
      define(pub=nvpub(index="01500019", attrs="40020002")),
      define(owner="4000000c", pub=nvpub(index="01500019")),
      define(pub=nvpub(index="01500019", attrs="00000002")),
      define(pub=nvpub(index="01500019", attrs="00020000")),
      define(pub=nvpub(index="01500019", alg="0010")),
      define(pub=nvpub(index="01500019", attrs="00020302")),
      define(pub=nvpub(index="02000000")),
      define(pub=nvpub(index="01500019", size="1000")),
      define(pub=nvpub(index="01500019", policy="0004aabbccdd")),
      define(pub="0000"), define(pub="0002" + "0150"),
      define(pub=nvpub(index="01500019")[:-4] + "0020" + "00"),
      define(pub=nvpub(index="01500019", attrs="20020002")),
      define(pub=nvpub(index="01500019", attrs="00020442")),
      define(pub=nvpub(index="01500019", attrs="00020032"), a=pw("41")),
      define(auth="0041" + "00"*65, pub=nvpub(index="01500019")),
      define(auth="0021" + "ee"*33, pub=nvpub(index="01500019")),
      define(owner="40000007"), define(owner="4000000b"),
      c(NS, "0000012a", "40000001" + "0000" + nvpub(index="01500019")),
      c(S, "00000122", "40000001" + "01500016" + pw()), c(S, "00000122", "40000001" + "01500016" + pw()),
      c(S, "00000122", "4000000c" + "01500017" + pw()),
      c(NS, "00000169", "01500016"), c(NS, "00000169", "01500018"),
      getcap(1, 0x01000000, 10), getcap(6, 0x202, 1),
      c(S, "00000129", "40000001" + pw() + "0003616263"),
      define(pub=nvpub(index="0150001a"), a=pw()),
      define(pub=nvpub(index="0150001a"), a=pw("616263")),
      define(pub=nvpub(index="0150001a"), a=pw("61626300")),
      c(S, "00000129", "4000000a" + pw("99") + "0000"),
      c(S, "00000129", "40000007" + pw() + "0000"),
      c(S, "00000129", "40000001" + pw("616263") + "0041" + "00"*65),
      ]
sess_ = [sas(), sas(nonce="aa"*8), sas(nonce="aa"*65), sas(se="02"), sas(se="01"), sas(sym="0006"),
         sas(h="0010"), sas(key="80000000"), sas(key="40000001"), sas(salt="0102"), sas(bind="40000001"),
         sas(bind="01000000"), getcap(1, 0x02000000, 10), getcap(1, 0x03000000, 10),
         c(NS, "00000165", "02000000"), c(NS, "00000165", "02000000"), c(NS, "00000165", "40000001"),
         c(NS, "00000165", "80000000"), c(NS, "00000165", "02000040"), c(NS, "00000165", "03000001"),
         sas(), sas(), sas(), sas(), getcap(6, 0x203, 4),
         extend(0, auth=area(sess("02000000", nonce="bb"*16, hmac="cc"*32))),
         extend(0, auth=area(sess("40000009"), sess("02000001", nonce="bb"*16, attrs="00"))),
         sas(nonce="aa"*32, h=SHA1), sas(nonce="aa"*20, h=SHA1),
         c(S, "00000165", pw() + "02000000"),
         sas(), extend(0, auth=area(sess("02000000", attrs="21"))),
         extend(0, auth=area(sess("02000000", attrs="41"))),
         c(S, "0000017d", area(sess("02000000", attrs="21")) + "0003616263" + SHA256 + "40000007"),
         c(S, "0000017b", area(sess("02000000", attrs="41")) + "0010"),
         c(S, "0000017b", area(sess("02000000", attrs="21")) + "0010"),
         c(S, "00000129", "40000001" + area(sess("02000000", attrs="21")) + "0000"),
         c(S, "00000129", "40000001" + area(sess("02000000", attrs="41")) + "0000"),
         c(S, "0000017e", area(sess("02000000", attrs="41")) + "00000000"),
         c(S, "0000017e", area(sess("02000000", attrs="80")) + "00000000"),
         ]
pre = [c(NS, "0000017b", "0008"), c(NS, "00000144", "0005"), c(NS, "00000144", "0001"),
       c(S, "00000144", pw() + "0000"),
       c(NS, "0000019f"), "!00c10000000a00000000",
       c(NS, "00000144", "0000"), c(NS, "00000144", "0000"), c(NS, "00000145", "0002"),
       c(NS, "00000145", "0001"), c(NS, "00000144", "0001")]
audit = [sas(bind="40000001"), c(S, "0000017e", area(sess("02000000", attrs="80")) + "00000000"),
         c(S, "0000017e", area(sess("02000000", attrs="80")) + "00000000" + "96"),
         sas(), c(S, "0000017e", area(sess("02000001", attrs="81")) + "00000001" + SHA256 + "03010000"),
         c(S, "0000017e", area(sess("02000001", attrs="83")) + "00000000"),
         c(S, "0000017e", area(sess("02000001", attrs="87")) + "00000000"),
         define(a=area(sess("02000001", attrs="02", hmac="00"*32))),
         define(a=area(sess("02000001", attrs="02"))),
         c(S, "0000017d", area(sess("02000001", attrs="25")) + "0003616263" + SHA256 + "40000007")]
# Parameter encryption, session checks, policy and DA-bound sessions (all
# unbound sessions on empty authValues: an empty HMAC authorizes).
XOR = "000a" + SHA256; AES128 = "0006" + "0080" + "0043"
def pcrevent(a, data="0003616263"):
    return c(S, "0000013c", "00000000" + a + data)
ZERO_POLICY = "0020" + "00"*32
crypt = [sas(sym=XOR), sas(sym=AES128), sas(sym="0006" + "0080" + "0042"),
         sas(sym="000a" + "0010"), sas(sym="0026" + "0080" + "0043"),
         c(NS, "00000165", "02000002"), sas(sym="0003" + "00c0" + "0043"),
         c(NS, "00000165", "02000002"), sas(sym="0006" + "0100" + "0043"),
         c(NS, "00000165", "02000002"),
         pcrevent(area(sess("02000000", attrs="21"))),
         pcrevent(area(sess("02000001", attrs="21"))),
         pcrevent(area(sess("02000000", attrs="21")), data="0009616263"),
         pcrevent(area(sess("02000000", attrs="21")), data="00"),
         pcrevent(area(sess("02000000", attrs="21")), data=""),
         c(S, "00000146", area(sess("02000001", attrs="21")) + "0004aabbccdd"),
         c(S, "0000017b", area(sess("02000000", attrs="41")) + "0010"),
         c(S, "0000017d", area(sess("02000001", attrs="61")) + "0003616263" + SHA256 + "40000007"),
         c(S, "0000017d", area(sess("02000000", attrs="21"), sess("02000001", attrs="41")) + "0003616263" + SHA256 + "40000007"),
         c(S, "0000017d", area(sess("02000000", attrs="21"), sess("02000001", attrs="21")) + "0003616263" + SHA256 + "40000007"),
         c(S, "0000017d", area(sess("02000000", attrs="41"), sess("02000001", attrs="41")) + "0003616263" + SHA256 + "40000007"),
         c(S, "0000017d", area(sess("02000000", attrs="21"), sess("02000000", attrs="41")) + "0003616263" + SHA256 + "40000007"),
         pcrevent(area(sess("02000000", attrs="21"), sess("02000001", attrs="81"))),
         pcrevent(area(sess("40000009"), sess("02000000", attrs="21"))),
         define(pub=nvpub(index="01500020", attrs="00060006"),
                a=area(sess("40000009"), sess("02000000", attrs="21"))),
         nvwrite(authh="01500020", idx="01500020", a=area(sess("02000000", attrs="21"))),
         nvread(authh="01500020", idx="01500020", a=area(sess("02000001", attrs="41"))),
         nvread(authh="01500020", idx="01500020", a=area(sess("02000001"))),
         sas(se="01"), sas(se="03"), c(NS, "00000165", "02000001"), sas(se="01"),
         define(pub=nvpub(index="01500021", attrs="000a000a", policy=ZERO_POLICY)),
         define(pub=nvpub(index="01500023", attrs="000a000a", policy="0020" + "11"*32)),
         nvwrite(authh="01500021", idx="01500021", a=area(sess("03000002"))),
         nvread(authh="01500021", idx="01500021", a=area(sess("03000002"))),
         nvread(authh="01500023", idx="01500023", a=area(sess("03000002"))),
         nvread(authh="01500020", idx="01500020", a=area(sess("03000002"))),
         nvread(authh="01500021", idx="01500021", a=area(sess("03000003"))),
         nvread(authh="01500021", idx="01500021", a=area(sess("03000002", attrs="81"))),
         extend(0, auth=area(sess("03000002"))),
         c(NS, "00000165", "03000003"), c(NS, "00000165", "03000002"),
         sas(bind="4000000a"),
         c(S, "00000129", "40000001" + area(sess("02000001", hmac="cc"*32)) + "0000"),
         c(S, "00000129", "4000000a" + pw() + "0000"),
         define(pub=nvpub(index="01500022", attrs="00040004")),
         sas(bind="01500022"),
         extend(0, auth=area(sess("02000002", hmac="cc"*32))),
         extend(0, auth=area(sess("02000002", hmac="cc"*32))),
         extend(0, auth=area(sess("02000002"))),
         sas(sym="0006" + "00c0" + "0043"), sas(sym="0026" + "00c0" + "0043"),
         sas(sym="0003" + "0080" + "0043"), sas(sym="0006" + "0100" + "003f"),
         sas(sym="0006" + "0080" + "0010"), sas(sym="0006" + "0080" + "0010", h="aaaa"),
         ]
def emit(name, lst):
    print("static const char *const %s[] = {" % name)
    for h in lst:
        print('    "%s",' % h)
    print("};")
emit("edge_header", header); emit("edge_capability", cap); emit("edge_pcr_misc", pcr)
emit("edge_nv", nv); emit("edge_sessions", sess_); emit("edge_startup", pre)
emit("edge_audit", audit); emit("edge_crypt", crypt)
