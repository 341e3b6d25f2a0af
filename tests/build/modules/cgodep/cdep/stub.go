//go:build !cgo

package cdep

// Answer without cgo is a stub that fails at run time.
func Answer() int { panic("cdep: built without cgo") }
