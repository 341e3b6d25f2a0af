//go:build cgo

// Package cdep calls C, like database drivers that wrap a C library.
package cdep

// static int answer(void) { return 42; }
import "C"

// Answer comes from C.
func Answer() int { return int(C.answer()) }
