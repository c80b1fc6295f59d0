// ECMAScript number <-> string conversions the adapter must reproduce exactly: Number::toString(10)
// for JSON output and room channels, parseFloat and the isNaN-based "numeric room" test.
#ifndef HRA_JSNUM_H
#define HRA_JSNUM_H

#include <stddef.h>
#include <stdint.h>

// Longest output is "-1.2345678901234567e-308" (24 bytes) plus NUL.
#define HRA_JSNUM_BUF 32

// Writes String(v) (no NUL counted, but one is written) and returns its length: shortest round-trip
// digits, "1e+21" / "1.5e-7" exponent forms, -0 -> "0", "NaN", "Infinity", "-Infinity".
size_t
hra_jsnum_format (double v, char out[HRA_JSNUM_BUF]);

// JS parseFloat(s) for a string given as UTF-8 bytes (leading JS white space skipped, longest
// decimal prefix, "Infinity"). Returns 1 with *out set, or 0 with *out = NaN when there is no number.
int
hra_jsnum_from_js_string (const uint8_t *s, size_t len, double *out);

// 1 when `!isNaN(s) && !isNaN(parseFloat(s))` is true for the JS string s (UTF-8 bytes), else 0.
int
hra_jsnum_is_numeric_string (const uint8_t *s, size_t len);

// 1 when s is a canonical array index ("0".."4294967294", no sign, no leading zero); *out gets it.
int
hra_jsnum_is_array_index (const uint8_t *s, size_t len, uint32_t *out);

#endif  // HRA_JSNUM_H
