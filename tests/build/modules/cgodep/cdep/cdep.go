//go:build cgo

// Package cdep calls C, like database drivers that wrap a C library; it links libm, so a glibc
// binary needs libm.so.6 besides libc.so.6.
package cdep

// #cgo LDFLAGS: -lm
// #include <math.h>
// static int answer(int cube) { return (int)lround(cbrt((double)cube)); }
import "C"

// Answer comes from C: the cube root of 74088.
func Answer() int { return int(C.answer(C.int(74088))) }
