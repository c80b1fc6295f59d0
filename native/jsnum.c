#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "jsnum.h"

// Integers below 2**53 are exact, so their shortest round-trip digits are the integer itself.
static size_t
format_uint (uint64_t u, char *out) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char) ('0' + u % 10);
    u /= 10;
  } while (u);
  for (size_t i = 0; i < n; i++)
    out[i] = tmp[n - 1 - i];
  return n;
}

// strtod on "<digits>e<exp>": no decimal point, so the result does not depend on LC_NUMERIC.
static int
digits_round_trip (const char *digits, int ndigits, int exp10, double v) {
  char buf[48];
  memcpy(buf, digits, (size_t) ndigits);
  int m = snprintf(buf + ndigits, sizeof(buf) - (size_t) ndigits, "e%d", exp10 - (ndigits - 1));
  if (m <= 0) return 0;
  return strtod(buf, NULL) == v;
}

// The correctly rounded p-digit decimal of v (v finite, > 0): digits without point, and the
// exponent of the first digit. snprintf's decimal point may be locale specific, so only digits
// and the exponent are read from its output.
static void
closest_digits (double v, int p, char *digits, int *exp10) {
  char buf[48];
  snprintf(buf, sizeof(buf), "%.*e", p - 1, v);
  int n = 0;
  const char *s = buf;
  for (; *s && *s != 'e'; s++) {
    if (*s >= '0' && *s <= '9') digits[n++] = *s;
  }
  *exp10 = *s == 'e' ? atoi(s + 1) : 0;
}

// Moves a p-digit candidate one unit in the last place up (dir 1) or down (dir -1). Returns 0
// when the result would not have a leading non-zero digit in p digits.
static int
step_digits (char *digits, int p, int *exp10, int dir) {
  int i = p - 1;
  if (dir > 0) {
    while (i >= 0 && digits[i] == '9') {
      digits[i] = '0';
      i--;
    }
    if (i < 0) {
      // 999 + 1 = 1000: one more digit, keep p of them.
      digits[0] = '1';
      for (int j = 1; j < p; j++)
        digits[j] = '0';
      (*exp10)++;
      return 1;
    }
    digits[i]++;
    return 1;
  }
  while (i >= 0 && digits[i] == '0') {
    digits[i] = '9';
    i--;
  }
  if (i < 0) return 0;
  digits[i]--;
  return digits[0] != '0';
}

size_t
hra_jsnum_format (double v, char out[HRA_JSNUM_BUF]) {
  size_t o = 0;
  if (isnan(v)) {
    memcpy(out, "NaN", 4);
    return 3;
  }
  if (v == 0) {
    memcpy(out, "0", 2);
    return 1;
  }
  if (v < 0) {
    out[o++] = '-';
    v = -v;
  }
  if (isinf(v)) {
    memcpy(out + o, "Infinity", 9);
    return o + 8;
  }
  if (v < 9007199254740992.0 && v == floor(v)) {
    o += format_uint((uint64_t) v, out + o);
    out[o] = '\0';
    return o;
  }

  char digits[24];
  int exp10 = 0;
  int k = 0;
  if (v < 1e15) {
    // Fast path for values with at most 15 significant digits: the first j for which
    // rint(v * 10**j) / 10**j == v gives the shortest digits. Both operands of that division are
    // exact, so the test is an exact round-trip check, and below 10**15 the product's error (< 0.25)
    // cannot pick the wrong integer while the rounding interval holds at most one candidate.
    static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
    for (int j = 1; j <= 22; j++) {
      double m = v * p10[j];
      if (m >= 1e15) break;
      double n = rint(m);
      if (n == 0 || n / p10[j] != v) continue;
      uint64_t u = (uint64_t) n;
      while (u % 10 == 0) {
        u /= 10;
        j--;
      }
      k = (int) format_uint(u, digits);
      exp10 = k - 1 - j;
      goto layout;
    }
  }

  // Shortest round-trip digits (ECMA-262 Number::toString step 5). Round-tripping is monotonic in
  // the precision for the closest candidate, so binary search finds the least p; a neighbour of the
  // closest candidate may still round-trip at p - 1 when v sits on a binade boundary, where the
  // rounding interval is lopsided.
  int lo = 1, hi = 17;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    closest_digits(v, mid, digits, &exp10);
    if (digits_round_trip(digits, mid, exp10, v))
      hi = mid;
    else
      lo = mid + 1;
  }
  k = lo;
  int found = 0;
  if (k > 1) {
    for (int dir = -1; dir <= 1 && !found; dir += 2) {
      char d2[24];
      int e2;
      closest_digits(v, k - 1, d2, &e2);
      if (step_digits(d2, k - 1, &e2, dir) && digits_round_trip(d2, k - 1, e2, v)) {
        memcpy(digits, d2, (size_t) (k - 1));
        exp10 = e2;
        k = k - 1;
        found = 1;
      }
    }
  }
  if (!found) closest_digits(v, k, digits, &exp10);
  while (k > 1 && digits[k - 1] == '0')
    k--;

layout:;
  int n = exp10 + 1;
  if (k <= n && n <= 21) {
    memcpy(out + o, digits, (size_t) k);
    o += (size_t) k;
    for (int i = 0; i < n - k; i++)
      out[o++] = '0';
  } else if (0 < n && n <= 21) {
    memcpy(out + o, digits, (size_t) n);
    o += (size_t) n;
    out[o++] = '.';
    memcpy(out + o, digits + n, (size_t) (k - n));
    o += (size_t) (k - n);
  } else if (-6 < n && n <= 0) {
    out[o++] = '0';
    out[o++] = '.';
    for (int i = 0; i < -n; i++)
      out[o++] = '0';
    memcpy(out + o, digits, (size_t) k);
    o += (size_t) k;
  } else {
    out[o++] = digits[0];
    if (k > 1) {
      out[o++] = '.';
      memcpy(out + o, digits + 1, (size_t) (k - 1));
      o += (size_t) (k - 1);
    }
    out[o++] = 'e';
    out[o++] = n - 1 < 0 ? '-' : '+';
    o += format_uint((uint64_t) (n - 1 < 0 ? 1 - n : n - 1), out + o);
  }
  out[o] = '\0';
  return o;
}

// Length of the JS WhiteSpace or LineTerminator code point at s (UTF-8), or 0.
static size_t
js_space (const uint8_t *s, const uint8_t *end) {
  size_t left = (size_t) (end - s);
  uint8_t c = s[0];
  if (c == 0x09 || c == 0x0a || c == 0x0b || c == 0x0c || c == 0x0d || c == 0x20) return 1;
  if (c == 0xc2 && left >= 2 && s[1] == 0xa0) return 2;
  if (left < 3) return 0;
  if (c == 0xe1 && s[1] == 0x9a && s[2] == 0x80) return 3;  // U+1680
  if (c == 0xe2 && s[1] == 0x80 && ((s[2] >= 0x80 && s[2] <= 0x8a) || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf)) return 3;
  if (c == 0xe2 && s[1] == 0x81 && s[2] == 0x9f) return 3;  // U+205F
  if (c == 0xe3 && s[1] == 0x80 && s[2] == 0x80) return 3;  // U+3000
  if (c == 0xef && s[1] == 0xbb && s[2] == 0xbf) return 3;  // U+FEFF
  return 0;
}

static const uint8_t *
skip_space (const uint8_t *s, const uint8_t *end) {
  size_t n;
  while (s < end && (n = js_space(s, end)) != 0)
    s += n;
  return s;
}

static const uint8_t *
skip_space_back (const uint8_t *s, const uint8_t *end) {
  // Back off one code point at a time: every space is 1, 2 or 3 bytes long.
  for (;;) {
    if (end > s && js_space(end - 1, end) == 1) {
      end -= 1;
    } else if (end - s >= 2 && js_space(end - 2, end) == 2) {
      end -= 2;
    } else if (end - s >= 3 && js_space(end - 3, end) == 3) {
      end -= 3;
    } else {
      return end;
    }
  }
}

static int
is_digit (uint8_t c) {
  return c >= '0' && c <= '9';
}

// Matches StrDecimalLiteral at s: [+-]? (Infinity | digits [. digits?] | . digits) [e [+-] digits].
// Returns the end of the longest match (s when none) and its value in *out.
static const uint8_t *
decimal_prefix (const uint8_t *s, const uint8_t *end, double *out) {
  const uint8_t *p = s;
  int neg = 0;
  if (p < end && (*p == '+' || *p == '-')) {
    neg = *p == '-';
    p++;
  }
  if ((size_t) (end - p) >= 8 && memcmp(p, "Infinity", 8) == 0) {
    *out = neg ? -INFINITY : INFINITY;
    return p + 8;
  }
  const uint8_t *int_start = p;
  while (p < end && is_digit(*p))
    p++;
  const uint8_t *int_end = p;
  const uint8_t *frac_start = p, *frac_end = p;
  if (p < end && *p == '.') {
    frac_start = p + 1;
    frac_end = frac_start;
    while (frac_end < end && is_digit(*frac_end))
      frac_end++;
    if (int_end == int_start && frac_end == frac_start) return s;  // "." alone
    p = frac_end;
  } else if (int_end == int_start) {
    return s;
  }
  long long exp10 = 0;
  if (p < end && (*p == 'e' || *p == 'E')) {
    const uint8_t *q = p + 1;
    int eneg = 0;
    if (q < end && (*q == '+' || *q == '-')) {
      eneg = *q == '-';
      q++;
    }
    if (q < end && is_digit(*q)) {
      while (q < end && is_digit(*q)) {
        // Beyond 10**9 the result is 0 or Infinity whatever the digits are.
        if (exp10 < 1000000000) exp10 = exp10 * 10 + (*q - '0');
        q++;
      }
      if (eneg) exp10 = -exp10;
      p = q;
    }
  }

  // Rebuild as "<digits>e<exp>" (no decimal point: strtod's is locale dependent). Leading zeros
  // are dropped; digits past 800 cannot change a correctly rounded double except through a sticky
  // non-zero, which a trailing '1' preserves.
  char buf[840];
  size_t n = 0;
  long long drop_exp = 0;
  int nonzero_tail = 0;
  const uint8_t *d;
  int seen = 0;
  for (int part = 0; part < 2; part++) {
    const uint8_t *a = part == 0 ? int_start : frac_start;
    const uint8_t *b = part == 0 ? int_end : frac_end;
    for (d = a; d < b; d++) {
      if (part == 1) drop_exp--;
      if (!seen && *d == '0') continue;
      seen = 1;
      if (n < 800) {
        buf[n++] = (char) *d;
      } else {
        drop_exp++;
        if (*d != '0') nonzero_tail = 1;
      }
    }
  }
  if (n == 0) {
    *out = neg ? -0.0 : 0.0;
    return p;
  }
  if (nonzero_tail) {
    buf[n++] = '1';
    drop_exp--;
  }
  snprintf(buf + n, sizeof(buf) - n, "e%lld", exp10 + drop_exp);
  double v = strtod(buf, NULL);
  *out = neg ? -v : v;
  return p;
}

int
hra_jsnum_from_js_string (const uint8_t *s, size_t len, double *out) {
  const uint8_t *end = s + len;
  const uint8_t *p = skip_space(s, end);
  const uint8_t *q = decimal_prefix(p, end, out);
  if (q == p) {
    *out = NAN;
    return 0;
  }
  return 1;
}

static int
is_radix_digit (uint8_t c, int radix) {
  if (radix == 16) return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  return c >= '0' && c < '0' + radix;
}

int
hra_jsnum_is_numeric_string (const uint8_t *s, size_t len) {
  // Number(s) is not NaN and parseFloat(s) is not NaN: the trimmed string is a complete, non-empty
  // StrNumericLiteral. (A 0x/0o/0b literal passes parseFloat through its leading "0".)
  const uint8_t *end = s + len;
  const uint8_t *p = skip_space(s, end);
  end = skip_space_back(p, end);
  if (p == end) return 0;
  if (end - p > 2 && p[0] == '0') {
    int radix = 0;
    if (p[1] == 'x' || p[1] == 'X') radix = 16;
    if (p[1] == 'o' || p[1] == 'O') radix = 8;
    if (p[1] == 'b' || p[1] == 'B') radix = 2;
    if (radix) {
      for (const uint8_t *q = p + 2; q < end; q++) {
        if (!is_radix_digit(*q, radix)) return 0;
      }
      return 1;
    }
  }
  double v;
  return decimal_prefix(p, end, &v) == end;
}

int
hra_jsnum_is_array_index (const uint8_t *s, size_t len, uint32_t *out) {
  if (len == 0 || len > 10) return 0;
  if (s[0] == '0') {
    if (len != 1) return 0;
    *out = 0;
    return 1;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (!is_digit(s[i])) return 0;
    v = v * 10 + (uint64_t) (s[i] - '0');
  }
  if (v > 4294967294u) return 0;
  *out = (uint32_t) v;
  return 1;
}
