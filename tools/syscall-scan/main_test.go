package main

import (
	"encoding/binary"
	"testing"
)

// amd64 machine code, assembled by hand from the Intel manual's encodings.
var (
	movEAX = func(n uint32) []byte { return append([]byte{0xb8}, le32(n)...) } // MOV EAX, imm32
	syscl  = []byte{0x0f, 0x05}                                                // SYSCALL
	jeRel8 = func(d byte) []byte { return []byte{0x74, d} }                    // JE rel8
	ret    = []byte{0xc3}                                                      // RET
)

func le32(n uint32) []byte {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, n)
	return b
}

func decodeAll(t *testing.T, a *arch, code []byte) []instruction {
	t.Helper()
	var out []instruction
	for off := 0; off < len(code); {
		in, size := a.decode(code[off:], uint64(0x1000+off))
		out = append(out, in)
		off += size
	}
	return out
}

func numbers(sites []scanned) []int64 {
	var out []int64
	for _, s := range sites {
		out = append(out, s.Number)
	}
	return out
}

func TestConstantBeforeTrapIsRead(t *testing.T) {
	a := amd64()
	code := append(append(movEAX(90), syscl...), ret...)
	got := numbers(sitesOf(funcCode{"main.f", decodeAll(t, a, code)}, a, nil, nil))
	if len(got) != 1 || got[0] != 90 {
		t.Fatalf("got %v, want [90]", got)
	}
}

func TestAJoinForgetsWhatOnePathLoaded(t *testing.T) {
	a := amd64()
	// MOV EAX,1; JE +5 (over the next MOV); MOV EAX,2; <join> SYSCALL
	code := append(append(append(movEAX(1), jeRel8(5)...), movEAX(2)...), syscl...)
	sites := sitesOf(funcCode{"main.f", decodeAll(t, a, code)}, a, nil, nil)
	if got := numbers(sites); len(got) != 1 || got[0] != -1 {
		t.Fatalf("got %v, want [-1]: the number differs by path", got)
	}
}

func TestIncomingArgumentMakesAPassThrough(t *testing.T) {
	a := amd64()
	sites := sitesOf(funcCode{"syscall.f", decodeAll(t, a, append(syscl, ret...))}, a, nil, nil)
	if len(sites) != 1 || !sites[0].passthrough || sites[0].Number != -1 {
		t.Fatalf("got %+v, want one pass-through site", sites)
	}
}

func TestABI0CallReadsTheStackSlot(t *testing.T) {
	a := amd64()
	// MOVQ $0x37, 0(SP) (48 c7 04 24 imm32); CALL rel32 to the wrapper at 0x2000
	code := append([]byte{0x48, 0xc7, 0x04, 0x24}, le32(0x37)...)
	callAt := 0x1000 + len(code)
	code = append(code, append([]byte{0xe8}, le32(uint32(0x2000-(callAt+5)))...)...)
	byEntry := map[uint64]string{0x2000: "golang.org/x/sys/unix.Syscall6"}
	wrappers := map[string]bool{"golang.org/x/sys/unix.Syscall6": true}
	got := numbers(sitesOf(funcCode{"golang.org/x/sys/unix.getsockopt", decodeAll(t, a, code)}, a, byEntry, wrappers))
	if len(got) != 1 || got[0] != 0x37 {
		t.Fatalf("got %v, want [55]", got)
	}
}

func TestArm64MovAndOrrIntoX8(t *testing.T) {
	a := arm64()
	word := func(w uint32) []byte { return le32(w) }
	// MOVZ X8, #0x65; SVC #0; ORR X8, XZR, #0x3f; SVC #0
	code := append(append(append(word(0xd2800ca8), word(0xd4000001)...), word(0xb24017e8)...), word(0xd4000001)...)
	got := numbers(sitesOf(funcCode{"runtime.f", decodeAll(t, a, code)}, a, nil, nil))
	if len(got) != 2 || got[0] != 101 || got[1] != 63 {
		t.Fatalf("got %v, want [101 63]", got)
	}
}
