// Plain-C tests for mp.c, jsnum.c, encoder.c and envelope.c. Run under
// ASan/UBSan by the Makefile.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../native/common.h"
#include "../../native/encoder.h"
#include "../../native/envelope.h"
#include "../../native/jsnum.h"
#include "../../native/mp.h"
#include "vectors.h"

static int failures;
static int checks;

#define CHECK(cond, ...) \
  do { \
    checks++; \
    if (!(cond)) { \
      failures++; \
      fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__); \
      fputc('\n', stderr); \
    } \
  } while (0)

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

// Decodes a hex string into a fresh heap block of exactly the right size (so
// ASan sees overreads).
static uint8_t *
unhex (const char *hex, size_t *len) {
  size_t n = strlen(hex) / 2;
  uint8_t *p = malloc(n ? n : 1);
  if (p == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(hex + 2 * i, "%2x", &v);
    p[i] = (uint8_t) v;
  }
  *len = n;
  return p;
}

static double
from_bits (unsigned long long bits) {
  double d;
  memcpy(&d, &bits, sizeof(d));
  return d;
}

// ---- mp ----

typedef struct {
  const char *hex;
  hra_mp_type_t type;
  long long i;  // INT value, UINT value, BOOL, count or payload length
  int ext_type;
} mp_case_t;

static void
test_mp_types (void) {
  static const mp_case_t cases[] = {
    { "c0", HRA_MP_NIL, 0, 0 },
    { "c2", HRA_MP_BOOL, 0, 0 },
    { "c3", HRA_MP_BOOL, 1, 0 },
    { "00", HRA_MP_UINT, 0, 0 },
    { "7f", HRA_MP_UINT, 127, 0 },
    { "cc80", HRA_MP_UINT, 128, 0 },
    { "cdffff", HRA_MP_UINT, 65535, 0 },
    { "ceffffffff", HRA_MP_UINT, 4294967295LL, 0 },
    { "cf0020000000000000", HRA_MP_UINT, 9007199254740992LL, 0 },
    { "e0", HRA_MP_INT, -32, 0 },
    { "ff", HRA_MP_INT, -1, 0 },
    { "d080", HRA_MP_INT, -128, 0 },
    { "d18000", HRA_MP_INT, -32768, 0 },
    { "d280000000", HRA_MP_INT, -2147483648LL, 0 },
    { "d3ffffffffffffffff", HRA_MP_INT, -1, 0 },
    { "a0", HRA_MP_STR, 0, 0 },
    { "a3616263", HRA_MP_STR, 3, 0 },
    { "d90161", HRA_MP_STR, 1, 0 },
    { "da000161", HRA_MP_STR, 1, 0 },
    { "db0000000161", HRA_MP_STR, 1, 0 },
    { "c40101", HRA_MP_BIN, 1, 0 },
    { "c500020102", HRA_MP_BIN, 2, 0 },
    { "c600000000", HRA_MP_BIN, 0, 0 },
    { "90", HRA_MP_ARRAY, 0, 0 },
    { "9101", HRA_MP_ARRAY, 1, 0 },
    { "dc000101", HRA_MP_ARRAY, 1, 0 },
    { "dd0000000101", HRA_MP_ARRAY, 1, 0 },
    { "80", HRA_MP_MAP, 0, 0 },
    { "810101", HRA_MP_MAP, 1, 0 },
    { "de00010101", HRA_MP_MAP, 1, 0 },
    { "df000000010101", HRA_MP_MAP, 1, 0 },
    { "d40501", HRA_MP_EXT, 1, 5 },
    { "d5fe0102", HRA_MP_EXT, 2, -2 },
    { "d6ff00000000", HRA_MP_EXT, 4, -1 },
    { "d7ff0000000000000000", HRA_MP_EXT, 8, -1 },
    { "d80100000000000000000000000000000000", HRA_MP_EXT, 16, 1 },
    { "c7010701", HRA_MP_EXT, 1, 7 },
    { "c8000107ff", HRA_MP_EXT, 1, 7 },
    { "c90000000107ff", HRA_MP_EXT, 1, 7 },
    // notepack reads 12 bytes for any ext8 of type -1, whatever the length
    // byte says.
    { "c701ff000000000000000000000000", HRA_MP_EXT, 12, -1 },
  };
  for (size_t i = 0; i < COUNT(cases); i++) {
    size_t len;
    uint8_t *p = unhex(cases[i].hex, &len);
    hra_mp_reader_t r;
    hra_mp_obj_t o;
    hra_mp_reader_init(&r, p, len);
    int err = hra_mp_read(&r, &o);
    CHECK(err == HRA_OK, "%s: err %d", cases[i].hex, err);
    if (err == HRA_OK) {
      CHECK(o.type == cases[i].type, "%s: type %d", cases[i].hex, o.type);
      long long got = 0;
      switch (o.type) {
        case HRA_MP_BOOL:
          got = o.v.b;
          break;
        case HRA_MP_INT:
          got = o.v.i;
          break;
        case HRA_MP_UINT:
          got = (long long) o.v.u;
          break;
        case HRA_MP_ARRAY:
        case HRA_MP_MAP:
          got = o.count;
          break;
        case HRA_MP_STR:
        case HRA_MP_BIN:
        case HRA_MP_EXT:
          got = (long long) o.s.len;
          break;
        default:
          break;
      }
      CHECK(got == cases[i].i, "%s: value %lld", cases[i].hex, got);
      if (o.type == HRA_MP_EXT)
        CHECK(o.ext_type == cases[i].ext_type, "%s: ext type %d", cases[i].hex,
          o.ext_type);
    }
    CHECK(hra_mp_validate(p, len, 4) == HRA_OK, "%s: validate", cases[i].hex);
    // Every proper prefix is rejected.
    for (size_t cut = 0; cut < len; cut++) {
      CHECK(hra_mp_validate(p, cut, 4) != HRA_OK, "%s: prefix %zu accepted",
        cases[i].hex, cut);
    }
    free(p);
  }

  // Floats: float32 is widened exactly, float64 kept.
  size_t len;
  uint8_t *p = unhex("ca3dcccccd", &len);
  hra_mp_reader_t r;
  hra_mp_obj_t o;
  hra_mp_reader_init(&r, p, len);
  CHECK(hra_mp_read(&r, &o) == HRA_OK && o.type == HRA_MP_FLOAT &&
      o.v.f == (double) 0.1f,
    "float32");
  free(p);
  p = unhex("cb3ff8000000000000", &len);
  hra_mp_reader_init(&r, p, len);
  CHECK(hra_mp_read(&r, &o) == HRA_OK && o.type == HRA_MP_FLOAT && o.v.f == 1.5,
    "float64");
  free(p);

  // Rounding of 64-bit integers to the double notepack builds.
  p = unhex("cfffffffffffffffff", &len);
  hra_mp_reader_init(&r, p, len);
  double d = 0;
  CHECK(hra_mp_read(&r, &o) == HRA_OK && hra_mp_number(&o, &d) &&
      d == 18446744073709551616.0,
    "u64 max");
  free(p);
  p = unhex("d38000000000000000", &len);
  hra_mp_reader_init(&r, p, len);
  CHECK(hra_mp_read(&r, &o) == HRA_OK && hra_mp_number(&o, &d) &&
      d == -9223372036854775808.0,
    "i64 min");
  free(p);
}

static void
test_mp_errors (void) {
  static const struct {
    const char *hex;
    int err;
  } cases[] = {
    { "", HRA_ETRUNC },
    { "c1", HRA_EINVAL },
    { "c0c0", HRA_EINVAL },  // trailing byte
    { "dd7fffffff", HRA_ETRUNC },  // array32 claiming 2^31 elements
    { "ddffffffff", HRA_ETRUNC },
    { "df7fffffff", HRA_ETRUNC },  // map32
    { "dfffffffff", HRA_ETRUNC },
    { "c640000000", HRA_ETRUNC },  // bin32 claiming 1 GiB
    { "dbffffffff", HRA_ETRUNC },  // str32
    { "c9ffffffff01", HRA_ETRUNC },  // ext32
    { "dcffff", HRA_ETRUNC },
    { "8201", HRA_ETRUNC },  // fixmap 2 needs 4 more bytes
    { "820101", HRA_ETRUNC },
    { "93c0c0", HRA_ETRUNC },
    { "91c1", HRA_EINVAL },
    { "c701ff00", HRA_ETRUNC },  // timestamp96 quirk: 12 bytes needed
  };
  for (size_t i = 0; i < COUNT(cases); i++) {
    size_t len;
    uint8_t *p = unhex(cases[i].hex, &len);
    int err = hra_mp_validate(p, len, 8);
    CHECK(err == cases[i].err, "%s: got %d want %d", cases[i].hex, err,
      cases[i].err);
    free(p);
  }

  // Depth: 3 nested arrays need max_depth 3; scalars need 0.
  size_t len;
  uint8_t *p = unhex("919190", &len);
  CHECK(hra_mp_validate(p, len, 3) == HRA_OK, "depth 3 ok");
  CHECK(hra_mp_validate(p, len, 2) == HRA_EDEPTH, "depth 3 > 2");
  free(p);
  p = unhex("81a16181a16280", &len);
  CHECK(hra_mp_validate(p, len, 3) == HRA_OK, "map depth 3 ok");
  CHECK(hra_mp_validate(p, len, 2) == HRA_EDEPTH, "map depth 3 > 2");
  free(p);
  p = unhex("2a", &len);
  CHECK(hra_mp_validate(p, len, 0) == HRA_OK, "scalar at depth 0");
  free(p);

  // Very deep nesting cannot blow the stack: 100000 fixarray(1) bytes then nil.
  size_t deep = 100000;
  uint8_t *q = malloc(deep + 1);
  memset(q, 0x91, deep);
  q[deep] = 0xc0;
  CHECK(hra_mp_validate(q, deep + 1, 100000) == HRA_EDEPTH,
    "deep nesting clamped");
  CHECK(hra_mp_validate(q + deep - 50, 51, 64) == HRA_OK, "50 levels");
  free(q);
}

// ---- jsnum ----

static void
test_jsnum (void) {
  char buf[HRA_JSNUM_BUF];
  for (size_t i = 0; i < COUNT(jsnum_vectors); i++) {
    double v = from_bits(jsnum_vectors[i].bits);
    size_t n = hra_jsnum_format(v, buf);
    CHECK(n == strlen(jsnum_vectors[i].s) &&
        strcmp(buf, jsnum_vectors[i].s) == 0,
      "format(%.17g) = %s, want %s", v, buf, jsnum_vectors[i].s);
  }
  for (size_t i = 0; i < COUNT(str_vectors); i++) {
    const uint8_t *s = (const uint8_t *) str_vectors[i].s;
    size_t len = strlen(str_vectors[i].s);
    double want = from_bits(str_vectors[i].pf_bits), got = 0;
    int found = hra_jsnum_from_js_string(s, len, &got);
    int same = (isnan(want) && isnan(got)) ||
      (got == want && signbit(got) == signbit(want));
    CHECK(same && found == !isnan(want),
      "parseFloat(\"%s\") = %.17g (%d), want %.17g", str_vectors[i].s, got,
      found, want);
    CHECK(hra_jsnum_is_numeric_string(s, len) == str_vectors[i].numeric,
      "numeric(\"%s\") want %d", str_vectors[i].s, str_vectors[i].numeric);
  }
  uint32_t idx = 0;
  CHECK(hra_jsnum_is_array_index((const uint8_t *) "0", 1, &idx) && idx == 0,
    "index 0");
  CHECK(hra_jsnum_is_array_index((const uint8_t *) "4294967294", 10, &idx) &&
      idx == 4294967294u,
    "index max");
  CHECK(!hra_jsnum_is_array_index((const uint8_t *) "4294967295", 10, &idx),
    "not index 2^32-1");
  CHECK(!hra_jsnum_is_array_index((const uint8_t *) "01", 2, &idx),
    "not index 01");
  CHECK(!hra_jsnum_is_array_index((const uint8_t *) "-1", 2, &idx),
    "not index -1");
  CHECK(!hra_jsnum_is_array_index((const uint8_t *) "", 0, &idx),
    "not index empty");
  CHECK(!hra_jsnum_is_array_index((const uint8_t *) "99999999999", 11, &idx),
    "not index long");
}

static void
test_utf8 (void) {
  hra_buf_t b = { 0 };
  for (size_t i = 0; i < COUNT(utf8_vectors); i++) {
    const uint8_t *in = (const uint8_t *) utf8_vectors[i].in;
    size_t len = utf8_vectors[i].in_len;
    b.len = 0;
    CHECK(hra_encoder_utf8_sanitize(&b, in, len) == HRA_OK, "sanitize");
    int same = b.len == utf8_vectors[i].out_len &&
      (b.len == 0 || memcmp(b.data, utf8_vectors[i].out, b.len) == 0);
    CHECK(same, "utf8 vector %zu", i);
    int valid = len == utf8_vectors[i].out_len &&
      (len == 0 || memcmp(in, utf8_vectors[i].out, len) == 0);
    CHECK(hra_encoder_utf8_valid(in, len) == valid, "utf8 valid vector %zu", i);
  }
  hra_buf_free(&b);
}

// ---- envelope + encoder ----

typedef struct {
  const char *name;
  const char *hex;
  const char *uid;
  const char *nsp;
  int is_volatile;
  int compress_false;
  const char *rooms_hex;
  const char *except_hex;
  const char *want;  // encoded packet string
  const char *att0_hex;  // first attachment, or NULL
} spec_case_t;

static void
hexify (const hra_slice_t *s, char *out) {
  for (size_t i = 0; i < s->len; i++)
    sprintf(out + 2 * i, "%02x", s->base[i]);
  out[2 * s->len] = '\0';
}

static void
test_spec_vectors (void) {
  static const spec_case_t cases[] = {
    { "V1",
      "93a6412d726f6f7483a47479706502a46461746193a568656c6c6fa5776f726c642aa36"
      "e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380",
      "A-root", "/", 0, 0, "90", "90", "2[\"hello\",\"world\",42]", NULL },
    { "V2",
      "93a6412d726f6f7483a47479706502a46461746192a46e65777383a16101a16292c3c0a"
      "163cb3ff8000000000000a36e7370a12f83a5726f6f6d7391a5726f6f6d31a665786365"
      "707490a5666c61677380",
      "A-root", "/", 0, 0, "91a5726f6f6d31", "90",
      "2[\"news\",{\"a\":1,\"b\":[true,null],\"c\":1.5}]", NULL },
    { "V3",
      "93a6412d726f6f7483a47479706502a46461746193a362696ec404deadbeefa178a36e7"
      "370a12f83a5726f6f6d7390a665786365707491a5726f6f6d33a5666c61677380",
      "A-root", "/", 0, 0, "90", "91a5726f6f6d33",
      "51-[\"bin\",{\"_placeholder\":true,\"num\":0},\"x\"]", "deadbeef" },
    { "V3b",
      "93a6412d726f6f7483a47479706502a46461746192a56d756c746901a36e7370a12f83a"
      "5726f6f6d7392a5726f6f6d31a5726f6f6d32a665786365707490a5666c61677382a876"
      "6f6c6174696c65c3a8636f6d7072657373c2",
      "A-root", "/", 1, 1, "92a5726f6f6d31a5726f6f6d32", "90",
      "2[\"multi\",1]", NULL },
    { "V3c",
      "93a6412d726f6f7483a47479706502a46461746192aa66726f6d536f636b657401a36e7"
      "370a12f83a5726f6f6d7390a665786365707491b4376531486157395231757a644d5930"
      "7a41414141a5666c61677380",
      "A-root", "/", 0, 0, "90",
      "91b4376531486157395231757a644d59307a41414141", "2[\"fromSocket\",1]",
      NULL },
    { "V3d",
      "93a6412d726f6f7483a47479706502a46461746191a36e756da36e7370a12f83a5726f6"
      "f6d73917ba665786365707490a5666c61677380",
      "A-root", "/", 0, 0, "917b", "90", "2[\"num\"]", NULL },
    { "V3e",
      "93a6412d61646d6e83a47479706502a46461746192a361646d01a36e7370a62f61646d6"
      "96e83a5726f6f6d7390a665786365707490a5666c61677380",
      "A-admn", "/admin", 0, 0, "90", "90", "2/admin,[\"adm\",1]", NULL },
    { "E1",
      "93a7656d697474657283a47479706502a46461746192ab66726f6d456d697474657201a"
      "36e7370a12f83a5726f6f6d7391a5726f6f6d31a5666c61677380a665786365707490",
      "emitter", "/", 0, 0, "91a5726f6f6d31", "90", "2[\"fromEmitter\",1]",
      NULL },
    { "E2",
      "93a7656d697474657283a47479706502a46461746192a26532c4020102a36e7370a12f8"
      "3a5726f6f6d7390a5666c61677381a8766f6c6174696c65c3a665786365707491a5726f"
      "6f6d33",
      "emitter", "/", 1, 0, "90", "91a5726f6f6d33",
      "51-[\"e2\",{\"_placeholder\":true,\"num\":0}]", "0102" },
  };
  hra_encoder_t enc;
  hra_encoder_init(&enc);
  hra_buf_t out = { 0 };
  hra_slices_t att = { 0 };
  char hexbuf[512];
  for (size_t i = 0; i < COUNT(cases); i++) {
    const spec_case_t *c = &cases[i];
    size_t len;
    uint8_t *p = unhex(c->hex, &len);
    hra_envelope_t env;
    int err = hra_envelope_decode(p, len, 32, &env);
    CHECK(err == HRA_OK, "%s: envelope err %d", c->name, err);
    if (err == HRA_OK) {
      CHECK(env.uid_is_string && env.uid.len == strlen(c->uid) &&
          memcmp(env.uid.base, c->uid, env.uid.len) == 0,
        "%s uid", c->name);
      CHECK(env.type == 2, "%s type", c->name);
      CHECK(env.has_nsp && env.nsp_is_string && env.nsp.len == strlen(c->nsp) &&
          memcmp(env.nsp.base, c->nsp, env.nsp.len) == 0,
        "%s nsp", c->name);
      CHECK(env.is_volatile == c->is_volatile &&
          env.compress_false == c->compress_false,
        "%s flags", c->name);
      hexify(&env.rooms, hexbuf);
      CHECK(strcmp(hexbuf, c->rooms_hex) == 0, "%s rooms %s", c->name, hexbuf);
      hexify(&env.except, hexbuf);
      CHECK(strcmp(hexbuf, c->except_hex) == 0, "%s except %s", c->name,
        hexbuf);
      CHECK(!env.has_id, "%s id", c->name);
      out.len = 0;
      att.len = 0;
      err = hra_encode_packet(&enc, &out, &att, (int) env.type, env.nsp, NULL,
        env.data, 32);
      CHECK(err == HRA_OK, "%s: encode err %d", c->name, err);
      CHECK(out.len == strlen(c->want) &&
          memcmp(out.data, c->want, out.len) == 0,
        "%s: got %.*s", c->name, (int) out.len, (const char *) out.data);
      CHECK(att.len == (c->att0_hex ? 1u : 0u), "%s: %zu attachments", c->name,
        att.len);
      if (att.len && c->att0_hex) {
        hexify(&att.items[0], hexbuf);
        CHECK(strcmp(hexbuf, c->att0_hex) == 0, "%s attachment %s", c->name,
          hexbuf);
      }
    }
    // Truncation at every offset, and each single-byte corruption, never
    // crashes or passes silently as the same message.
    for (size_t cut = 0; cut < len; cut++) {
      CHECK(hra_envelope_decode(p, cut, 32, &env) != HRA_OK,
        "%s: prefix %zu accepted", c->name, cut);
    }
    for (size_t at = 0; at < len; at++) {
      uint8_t saved = p[at];
      for (int v = 0; v < 256; v += 7) {
        p[at] = (uint8_t) v;
        if (hra_envelope_decode(p, len, 32, &env) == HRA_OK) {
          out.len = 0;
          att.len = 0;
          (void) hra_encode_packet(&enc, &out, &att, (int) env.type,
            env.has_nsp && env.nsp_is_string
              ? env.nsp
              : (hra_slice_t){ (const uint8_t *) "/", 1 },
            env.has_id ? &env.id : NULL, env.data, 32);
        }
      }
      p[at] = saved;
    }
    free(p);
  }
  hra_buf_free(&out);
  hra_slices_free(&att);
  hra_encoder_free(&enc);
}

static void
test_envelope_errors (void) {
  static const struct {
    const char *hex;
    int err;
  } cases[] = {
    { "80", HRA_ETYPE },  // not an array
    { "92a16181a47479706502", HRA_ETYPE },  // 2 elements
    { "93a161c080", HRA_ETYPE },  // packet nil
    { "93a1619080", HRA_ETYPE },  // packet array
    { "93a16181a474797065a13280", HRA_ETYPE },  // type "2"
    { "93a16181a474797065cb400400000000000080", HRA_ETYPE },  // type 2.5
    { "93a16180 80", HRA_ETYPE },  // no type
    { "93a16181a47479706502c0", HRA_ETYPE },  // opts nil
    { "93a16181a4747970650281a5726f6f6d73a178", HRA_ETYPE },  // rooms "x"
    { "93a16181a4747970650281a665786365707402", HRA_ETYPE },  // except 2
    { "93a16181a4747970650281a95f5f70726f746f5f5f81a161c3",
      HRA_ENOTSUP },  // opts __proto__ map
    { "93a16182a47479706502a95f5f70726f746f5f5f81a47479706502 80",
      HRA_ENOTSUP },
    { "93a16182a47479706502a178c4010180",
      HRA_ENOTSUP },  // unknown packet key with binary
    { "93a16182a4747970650291a47479706502 80", HRA_ENOTSUP },  // array key
    { "93a16181a4747970650280c0", HRA_EINVAL },  // trailing byte
  };
  for (size_t i = 0; i < COUNT(cases); i++) {
    char hex[256];
    size_t j = 0;
    for (const char *s = cases[i].hex; *s && j < sizeof(hex) - 1; s++) {
      if (*s != ' ')
        hex[j++] = *s;
    }
    hex[j] = '\0';
    size_t len;
    uint8_t *p = unhex(hex, &len);
    hra_envelope_t env;
    int err = hra_envelope_decode(p, len, 32, &env);
    CHECK(err == cases[i].err, "envelope %s: got %d want %d", hex, err,
      cases[i].err);
    free(p);
  }

  // Accepted variants: key order, duplicates, missing/nil rooms, flags
  // variants, nsp forms, id.
  static const struct {
    const char *hex;
    int has_nsp, nsp_is_string, has_id, is_volatile, compress_false;
    uint32_t rooms, except;
  } ok[] = {
    // opts {flags:{volatile:1, compress:false}, except:nil, rooms:[1,2],
    // rooms:[3]} (last wins)
    { "93c381a47479706502 84 a5666c616773 "
      "82a8766f6c6174696c6501a8636f6d7072657373c2a6657863657074c0a5726f6f6d739"
      "201 02a5726f6f6d739103",
      0, 0, 0, 1, 1, 1, 0 },
    // packet {nsp: nil, id: 5, type: 3}, opts [] (array opts is all defaults)
    { "93a17883a36e7370c0a26964 05a47479706503 90", 1, 0, 1, 0, 0, 0, 0 },
    // packet {nsp: undefined (d4 00 00), id: nil, type: 2.0}, opts {flags:
    // "x", flags: {volatile: ""}}
    { "93a17883a36e7370d40000a26964c0a474797065cb4000000000000000 "
      "82a5666c616773a178a5666c61677381a8766f6c6174696c65a0",
      0, 0, 0, 0, 0, 0, 0 },
    // flags {volatile: NaN, compress: 0}, __proto__: 1 in packet is ignored
    { "93a17882a95f5f70726f746f5f5f01a4747970650281a5666c61677382a8766f6c61746"
      "96c65cb7ff8000000000000a8636f6d707265737300",
      0, 0, 0, 0, 0, 0, 0 },
    // 4 elements: the extra one is ignored; flags {volatile: {}} is truthy
    { "94a17881a4747970650281a5666c61677381a8766f6c6174696c6580c0", 0, 0, 0, 1,
      0, 0, 0 },
  };
  for (size_t i = 0; i < COUNT(ok); i++) {
    char hex[512];
    size_t j = 0;
    for (const char *s = ok[i].hex; *s && j < sizeof(hex) - 1; s++) {
      if (*s != ' ')
        hex[j++] = *s;
    }
    hex[j] = '\0';
    size_t len;
    uint8_t *p = unhex(hex, &len);
    hra_envelope_t env;
    int err = hra_envelope_decode(p, len, 32, &env);
    CHECK(err == HRA_OK, "envelope ok %zu: err %d", i, err);
    if (err == HRA_OK) {
      CHECK(env.has_nsp == ok[i].has_nsp &&
          env.nsp_is_string == ok[i].nsp_is_string,
        "ok %zu nsp", i);
      CHECK(env.has_id == ok[i].has_id, "ok %zu id", i);
      CHECK(env.is_volatile == ok[i].is_volatile &&
          env.compress_false == ok[i].compress_false,
        "ok %zu flags %d %d", i, env.is_volatile, env.compress_false);
      CHECK(env.rooms_count == ok[i].rooms && env.except_count == ok[i].except,
        "ok %zu rooms %u except %u", i, env.rooms_count, env.except_count);
    }
    free(p);
  }
}

typedef struct {
  int type;
  const char *nsp;
  const char *id_hex;  // NULL: no id
  const char *data_hex;
  int err;
  const char *want;
  int natt;
} enc_case_t;

static void
test_encoder_cases (void) {
  static const enc_case_t cases[] = {
    // header forms
    { 2, "/admin", "0c", "92a470696e6707", 0, "2/admin,12[\"ping\",7]", 0 },
    { 2, "/admin", "00", "91a470696e67", 0, "2/admin,0[\"ping\"]", 0 },
    { 3, "/", "0c", "91a4706f6e67", 0, "312[\"pong\"]", 0 },
    { 3, "/admin", "03", "91c40109", 0,
      "61-/admin,3[{\"_placeholder\":true,\"num\":0}]", 1 },
    { 2, "", "a3616263", "90", 0, "2abc[]", 0 },
    { 2, "/", "cb3ff8000000000000", "", 0, "21.5", 0 },
    { 2, "/", "cb7ff8000000000000", "c0", 0, "2NaN", 0 },
    { 2, "/", "c3", "d40000", 0, "2true", 0 },
    { 2, "/", "c0", "00", 0, "20", 0 },
    { 2, "/", "d40000", "c2", 0, "2false", 0 },
    { 2, "/", "90", "90", HRA_ENOTSUP, NULL, 0 },
    { 2, "/", "c40101", "90", HRA_ENOTSUP, NULL, 0 },
    { 4, "/", NULL, "90", HRA_ENOTSUP, NULL, 0 },
    // numbers
    { 2, "/", NULL,
      "96cf0020000000000001d3ffe0000000000001cb8000000000000000ca3dcccccdcb7ff"
      "0000000000000cb44b52d02c7e14af6",
      0,
      "2[9007199254740992,-9007199254740991,0,0.10000000149011612,null,1e+23]",
      0 },
    { 2, "/", NULL, "93cfffffffffffffffffd38000000000000000cb3eb0c6f7a0b5ed8d",
      0, "2[18446744073709552000,-9223372036854776000,0.000001]", 0 },
    // strings: escapes, controls, U+2028, invalid UTF-8
    { 2, "/", NULL, "91ae22 5c 2f 08 0c 0a 0d 09 01 1f 7f e2 80 a8", 0,
      "2[\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\xe2\x80\xa8\"]", 0 },
    { 2, "/", NULL, "91a5 61 ff e0 80 62", 0,
      "2[\"a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
      "b\"]",
      0 },
    // maps: index keys first, duplicates, __proto__, non-string keys,
    // undefined values
    { 2, "/", NULL, "84a16201a13102a23031 03a3343239 04", 0,
      "2{\"1\":2,\"429\":4,\"b\":1,\"01\":3}", 0 },
    { 2, "/", NULL, "83a16101a16202a16103", 0, "2{\"a\":3,\"b\":2}", 0 },
    { 2, "/", NULL,
      "83a95f5f70726f746f5f5f81a178 01a16101a95f5f70726f746f5f5fc0", 0,
      "2{\"a\":1}", 0 },
    { 2, "/", NULL,
      "86 01a161 c0a16e c3a174 cb3ff8000000000000a166 ff a1 6d d40000a175", 0,
      "2{\"1\":\"a\",\"null\":\"n\",\"true\":\"t\",\"1.5\":\"f\",\"-1\":\"m\","
      "\"undefined\":\"u\"}",
      0 },
    { 2, "/", NULL, "83a161d40000a16201a163d40000", 0, "2{\"b\":1}", 0 },
    { 2, "/", NULL, "92d40000c0", 0, "2[null,null]", 0 },
    { 2, "/", NULL, "8191 01 02", HRA_ENOTSUP, NULL, 0 },
    { 2, "/", NULL, "81a95f5f70726f746f5f5fc4 0101", HRA_ENOTSUP, NULL, 0 },
    { 2, "/", NULL, "81a95f5f70726f746f5f5fd6ff00000000", HRA_ENOTSUP, NULL,
      0 },
    { 2, "/", NULL, "81a95f5f70726f746f5f5f81a95f5f70726f746f5f5fd6ff00000000",
      HRA_ENOTSUP, NULL, 0 },
    { 2, "/", NULL, "82a95f5f70726f746f5f5fd6ff00000000a95f5f70726f746f5f5f90",
      0, "2{}", 0 },
    // binary: placeholders numbered in JS key order, ext forms
    { 2, "/", NULL, "82a162c40102a131c40101", 0,
      "52-{\"1\":{\"_placeholder\":true,\"num\":0},\"b\":{\"_placeholder\":"
      "true,\"num\":1}}",
      2 },
    { 2, "/", NULL, "93d40501c7020002 03d8ff00000000000000000000000000000000",
      0,
      "53-[[5,{\"_placeholder\":true,\"num\":0}],{\"_placeholder\":true,"
      "\"num\":1},[-1,{\"_placeholder\":true,\"num\":2}]]",
      3 },
    // dates
    { 2, "/", NULL,
      "94d6ff00000000d6ffffffffffd7ff00000004 00000001d7000000000000000001", 0,
      "2[\"1970-01-01T00:00:00.000Z\",\"2106-02-07T06:28:15.000Z\",\"1970-01-"
      "01T00:00:01.000Z\",\"1970-01-01T00:00:00.001Z\"]",
      0 },
    { 2, "/", NULL,
      "93c70cff00000000ffffffff ffffffff c70cff 000f4240 0000 003a fff4 4180 "
      "c70cff 00000000 7fffffff ffffffff",
      0,
      "2[\"1969-12-31T23:59:59.000Z\",\"+010000-01-01T00:00:00.001Z\",null]",
      0 },
    { 2, "/", NULL, "91c70cff00000000fffffff1 84aa5080", 0,
      "2[\"-000001-01-01T00:00:00.000Z\"]", 0 },
    // errors
    { 2, "/", NULL, "9190", 0, "2[[]]", 0 },
    { 2, "/", NULL, "919190", HRA_EDEPTH, NULL, 0 },
    { 2, "/", NULL, "92c0", HRA_ETRUNC, NULL, 0 },
    { 2, "/", NULL, "90c0", HRA_EINVAL, NULL, 0 },
    { 2, "/", NULL, "91c1", HRA_EINVAL, NULL, 0 },
  };
  hra_encoder_t enc;
  hra_encoder_init(&enc);
  hra_buf_t out = { 0 };
  hra_slices_t att = { 0 };
  for (size_t i = 0; i < COUNT(cases); i++) {
    const enc_case_t *c = &cases[i];
    char hex[512];
    size_t j = 0;
    for (const char *s = c->data_hex; *s && j < sizeof(hex) - 1; s++) {
      if (*s != ' ')
        hex[j++] = *s;
    }
    hex[j] = '\0';
    size_t len, idlen = 0;
    uint8_t *p = unhex(hex, &len);
    uint8_t *id = c->id_hex ? unhex(c->id_hex, &idlen) : NULL;
    hra_slice_t ids = { id, idlen };
    hra_slice_t nsp = { (const uint8_t *) c->nsp, strlen(c->nsp) };
    hra_slice_t data = { p, len };
    // Start from non-empty buffers to check append-and-restore behaviour.
    out.len = 0;
    att.len = 0;
    hra_buf_puts(&out, "XY");
    hra_slices_push(&att, (hra_slice_t){ p, 0 });
    int err = hra_encode_packet(&enc, &out, &att, c->type, nsp,
      id ? &ids : NULL, data, 2);
    CHECK(err == c->err, "case %zu (%s): err %d want %d", i, hex, err, c->err);
    if (err == HRA_OK && c->want) {
      size_t wl = strlen(c->want);
      CHECK(out.len == wl + 2 && memcmp(out.data + 2, c->want, wl) == 0,
        "case %zu: got %.*s want %s", i, (int) out.len - 2,
        (const char *) out.data + 2, c->want);
      CHECK(att.len == (size_t) c->natt + 1, "case %zu: %zu attachments", i,
        att.len - 1);
    }
    if (err != HRA_OK)
      CHECK(out.len == 2 && att.len == 1, "case %zu: not restored", i);
    free(p);
    free(id);
  }
  hra_buf_free(&out);
  hra_slices_free(&att);
  hra_encoder_free(&enc);
}

// A large map (slow path with sorting) and a large duplicate-heavy map.
static void
test_encoder_big_map (void) {
  hra_buf_t in = { 0 }, want = { 0 }, out = { 0 };
  hra_slices_t att = { 0 };
  hra_encoder_t enc;
  hra_encoder_init(&enc);
  // {"k0":0, "k1":1, ... "k99":99, then "k0".."k99" again with value i+1000,
  // then "5": 5}
  hra_buf_append(&in, "\xde\x00\xc9", 3);
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < 100; i++) {
      char k[8];
      int n = snprintf(k, sizeof(k), "k%d", i);
      hra_buf_putc(&in, (uint8_t) (0xa0 | n));
      hra_buf_append(&in, k, (size_t) n);
      int v = pass ? i + 1000 : i;
      if (v < 128) {
        hra_buf_putc(&in, (uint8_t) v);
      } else {
        hra_buf_putc(&in, 0xcd);
        hra_buf_putc(&in, (uint8_t) (v >> 8));
        hra_buf_putc(&in, (uint8_t) v);
      }
    }
  }
  hra_buf_append(&in, "\xa1\x35\x05", 3);
  hra_buf_puts(&want, "2{\"5\":5");
  for (int i = 0; i < 100; i++) {
    char k[32];
    snprintf(k, sizeof(k), ",\"k%d\":%d", i, i + 1000);
    hra_buf_puts(&want, k);
  }
  hra_buf_putc(&want, '}');
  int err = hra_encode_packet(&enc, &out, &att, 2,
    (hra_slice_t){ (const uint8_t *) "/", 1 }, NULL,
    (hra_slice_t){ in.data, in.len }, 8);
  CHECK(err == HRA_OK, "big map err %d", err);
  CHECK(out.len == want.len && memcmp(out.data, want.data, out.len) == 0,
    "big map: %.*s", (int) out.len, (const char *) out.data);
  hra_buf_free(&in);
  hra_buf_free(&want);
  hra_buf_free(&out);
  hra_slices_free(&att);
  hra_encoder_free(&enc);
}

// Random byte strings biased towards msgpack tags: nothing may crash, leak or read out of bounds
// (ASan/UBSan), and the encoder must restore its outputs on every error.
static uint32_t
xorshift (uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

static void
test_fuzz (void) {
  static const uint8_t tags[] = { 0x80, 0x81, 0x82, 0x83, 0x90, 0x91, 0x92, 0x93, 0xa1, 0xa3, 0xa9, 0xc0, 0xc2, 0xc3, 0xc4, 0xc7, 0xca, 0xcb, 0xcf, 0xd3, 0xd4, 0xd6, 0xd7, 0xd9, 0xdc, 0xde, 0xff, 0x00, 0x01, 0x30, 0x31, 0x5f, 0x74 };
  static const char *words[] = { "__proto__", "toJSON", "type", "data", "nsp", "id", "rooms", "except", "flags", "volatile", "compress", "1", "01" };
  uint32_t seed = 0x9e3779b9;
  hra_encoder_t enc;
  hra_encoder_init(&enc);
  hra_buf_t out = { 0 };
  hra_slices_t att = { 0 };
  int decoded = 0, encoded = 0;
  for (int iter = 0; iter < 300000; iter++) {
    size_t len = 1 + xorshift(&seed) % 48;
    uint8_t *p = malloc(len + 16);
    size_t n = 0;
    // Half of the inputs are an envelope template whose packet data (and maybe opts) is random.
    static const uint8_t env_head[] = { 0x93, 0xa1, 0x78, 0x82, 0xa4, 't', 'y', 'p', 'e', 0x02, 0xa4, 'd', 'a', 't', 'a' };
    int wrap = xorshift(&seed) % 2;
    if (wrap) {
      p = realloc(p, len + 16 + sizeof(env_head));
      memcpy(p, env_head, sizeof(env_head));
      n = sizeof(env_head);
      len += n;
    }
    p[n++] = (uint8_t) (xorshift(&seed) % 3 == 0 ? 0x93 : tags[xorshift(&seed) % sizeof(tags)]);
    while (n < len) {
      uint32_t r = xorshift(&seed) % 10;
      if (r < 6) {
        p[n++] = tags[xorshift(&seed) % sizeof(tags)];
      } else if (r < 8) {
        const char *w = words[xorshift(&seed) % (sizeof(words) / sizeof(words[0]))];
        size_t wl = strlen(w);
        p[n++] = (uint8_t) (0xa0 | wl);
        memcpy(p + n, w, wl);
        n += wl;
      } else {
        p[n++] = (uint8_t) xorshift(&seed);
      }
    }
    if (wrap) p[n++] = 0x80;
    // Copy into an exact-size block so that any overread is caught.
    uint8_t *q = malloc(n);
    memcpy(q, p, n);
    free(p);
    hra_envelope_t env;
    if (hra_envelope_decode(q, n, 16, &env) == HRA_OK) decoded++;
    out.len = 0;
    att.len = 0;
    hra_buf_puts(&out, "X");
    hra_slice_t id = { q, n / 3 };
    int err = hra_encode_packet(&enc, &out, &att, 2, (hra_slice_t){ (const uint8_t *) "/a", 2 }, xorshift(&seed) % 4 ? NULL : &id, (hra_slice_t){ q, n }, 8);
    if (err == HRA_OK) {
      encoded++;
    } else {
      CHECK(out.len == 1 && att.len == 0, "fuzz: outputs not restored");
    }
    free(q);
  }
  CHECK(decoded > 0 && encoded > 1000, "fuzz: decoded %d encoded %d", decoded, encoded);
  hra_buf_free(&out);
  hra_slices_free(&att);
  hra_encoder_free(&enc);
}

int
main (void) {
  test_mp_types();
  test_mp_errors();
  test_jsnum();
  test_utf8();
  test_spec_vectors();
  test_envelope_errors();
  test_encoder_cases();
  test_encoder_big_map();
  test_fuzz();
  if (failures) {
    fprintf(stderr, "%d of %d checks failed\n", failures, checks);
    return 1;
  }
  printf("codec_test: %d checks passed\n", checks);
  return 0;
}
