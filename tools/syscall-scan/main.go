// Command syscall-scan reads a Go ELF binary and reports the system calls it can make.
//
// It works on stripped binaries too: function names and bounds come from the Go line table
// (.gopclntab), which every Go binary keeps for its own stack traces. Each function is
// disassembled (amd64 or arm64); a system call site is either a trap instruction (SYSCALL,
// SVC) with the number register set to a constant before it, or a call to a wrapper function
// (one whose trap number is its first argument) with that argument register set to a constant.
// Wrappers are found, not listed: a function of a system-call package (runtime, syscall,
// x/sys/unix, ...) whose trap or wrapper call takes a number it did not load itself is a
// wrapper. Sites whose number cannot be read are reported as unresolved.
//
// Usage: syscall-scan BINARY   (prints one JSON document)
package main

import (
	"debug/buildinfo"
	"debug/elf"
	"debug/gosym"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"golang.org/x/arch/arm64/arm64asm"
	"golang.org/x/arch/x86/x86asm"
)

const (
	exitBadInput = 1
	exitFailed   = 3
)

type site struct {
	Func   string `json:"func"`
	PC     uint64 `json:"pc"`
	Kind   string `json:"kind"` // "trap" or "call"
	Callee string `json:"callee,omitempty"`
	Number int64  `json:"number"` // -1 when it could not be read
}

type report struct {
	GoVersion  string            `json:"goVersion"`
	Arch       string            `json:"arch"`
	Path       string            `json:"path"`
	Main       string            `json:"main"`
	Settings   map[string]string `json:"settings"`
	Deps       []string          `json:"deps"`
	Stripped   bool              `json:"stripped"`
	Interp     string            `json:"interp"`
	Needed     []string          `json:"needed"`
	Functions  int               `json:"functions"`
	Sites      []site            `json:"sites"`
	Wrappers   []string          `json:"wrappers"`
	Unresolved []site            `json:"unresolved"`
	Symbols    []string          `json:"symbols"`
}

// instruction is what the analysis needs of one decoded instruction, whatever the architecture.
type instruction struct {
	pc     uint64
	trap   bool
	call   uint64 // direct call target, 0 if none
	calls  bool   // any call (clobbers registers)
	writes int    // register index written (-1 none)
	isImm  bool   // the write is a constant
	imm    int64
	slot   int // register stored to the outgoing first stack argument slot (ABI0 calls), -1 none
	// slotImm: a constant (slotVal) is stored to that slot
	slotImm bool
	slotVal int64
	src     int // for a register-to-register move: the source register, else -1
	// loadsArg0: the write loads the incoming first stack argument (ABI0 assembly)
	loadsArg0 bool
	jump      uint64 // target of a (conditional) jump, 0 if none
}

type arch struct {
	name    string
	numReg  int // register holding the trap number at the trap instruction
	argReg  int // register holding a wrapper's first argument at a call
	decode  func(code []byte, pc uint64) (instruction, int)
	minStep int
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "syscall-scan: "+format+"\n", args...)
	os.Exit(code)
}

func main() {
	if len(os.Args) != 2 {
		fail(2, "usage: syscall-scan BINARY")
	}
	rep, err := scan(os.Args[1])
	if err != nil {
		var bad badInput
		if errors.As(err, &bad) {
			fail(exitBadInput, "%v", err)
		}
		fail(exitFailed, "%v", err)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", " ")
	if err := out.Encode(rep); err != nil {
		fail(exitFailed, "%v", err)
	}
}

type badInput struct{ msg string }

func (b badInput) Error() string { return b.msg }

func scan(path string) (*report, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, badInput{fmt.Sprintf("%s is not an ELF executable: %v", path, err)}
	}
	defer f.Close()
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, badInput{fmt.Sprintf("%s is not a Go binary (no Go build information): %v", path, err)}
	}
	rep := &report{GoVersion: info.GoVersion, Path: info.Path, Main: info.Main.Path,
		Settings: map[string]string{}, Deps: []string{}, Needed: []string{}, Sites: []site{},
		Wrappers: []string{}, Unresolved: []site{}, Symbols: []string{}}
	for _, s := range info.Settings {
		rep.Settings[s.Key] = s.Value
	}
	for _, d := range info.Deps {
		rep.Deps = append(rep.Deps, d.Path)
	}
	var a *arch
	switch f.Machine {
	case elf.EM_X86_64:
		a = amd64()
	case elf.EM_AARCH64:
		a = arm64()
	default:
		return nil, badInput{fmt.Sprintf("%s is for %v; only amd64 and arm64 are read", path, f.Machine)}
	}
	rep.Arch = a.name
	if f.Section(".symtab") == nil {
		rep.Stripped = true
	}
	if p := f.Progs; p != nil {
		for _, prog := range p {
			if prog.Type == elf.PT_INTERP {
				buf := make([]byte, prog.Filesz)
				if _, err := prog.ReadAt(buf, 0); err == nil {
					rep.Interp = strings.TrimRight(string(buf), "\x00")
				}
			}
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && libs != nil {
		rep.Needed = libs
	}
	pclnSec := f.Section(".gopclntab")
	textSec := f.Section(".text")
	if pclnSec == nil || textSec == nil {
		return nil, badInput{fmt.Sprintf("%s has no Go line table (.gopclntab) or no .text", path)}
	}
	pcln, err := pclnSec.Data()
	if err != nil {
		return nil, err
	}
	table, err := gosym.NewTable(nil, gosym.NewLineTable(pcln, textSec.Addr))
	if err != nil {
		return nil, badInput{fmt.Sprintf("cannot read the Go line table of %s: %v", path, err)}
	}
	text, err := textSec.Data()
	if err != nil {
		return nil, err
	}
	rep.Functions = len(table.Funcs)
	analyse(rep, a, table, text, textSec.Addr)
	return rep, nil
}

// syscallPackage: functions of these packages may pass a trap number through.
func syscallPackage(name string) bool {
	name = strings.TrimPrefix(name, "vendor/")
	for _, p := range []string{"runtime.", "internal/runtime/syscall", "syscall.", "golang.org/x/sys/unix.",
		"internal/syscall/unix.", "internal/poll."} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Symbols whose presence tells the profile writer what the program uses (network families).
var interesting = []string{"net.(*TCPListener).", "net.(*TCPConn).", "net.(*UDPConn).", "net.(*UnixConn).",
	"net.(*UnixListener).", "net.(*IPConn).", "syscall.NetlinkRIB", "net.interfaceTable", "net.socket",
	"net/http.(*Server).Serve", "crypto/tls.", "os/exec.(*Cmd).Start", "syscall.forkExec",
	"net.(*Resolver).", "os.Chmod", "os.(*File).Chmod", "net.(*sysListener).listenUDP",
	"net.(*sysListener).listenUnix", "net.(*sysListener).listenTCP", "net.(*sysDialer).dialUDP",
	"net.(*sysDialer).dialUnix", "net.(*sysDialer).dialTCP", "internal/poll.(*FD).Accept"}

type funcCode struct {
	name  string
	insts []instruction
}

func analyse(rep *report, a *arch, table *gosym.Table, text []byte, base uint64) {
	byEntry := map[uint64]string{}
	funcs := make([]funcCode, 0, len(table.Funcs))
	seen := map[string]bool{}
	for i := range table.Funcs {
		fn := &table.Funcs[i]
		byEntry[fn.Entry] = fn.Name
		for _, prefix := range interesting {
			if strings.HasPrefix(fn.Name, prefix) && !seen[prefix] {
				seen[prefix] = true
				rep.Symbols = append(rep.Symbols, prefix)
			}
		}
		if fn.Entry < base || fn.End > base+uint64(len(text)) || fn.End <= fn.Entry {
			continue
		}
		code := text[fn.Entry-base : fn.End-base]
		fc := funcCode{name: fn.Name}
		for off := 0; off < len(code); {
			inst, size := a.decode(code[off:], fn.Entry+uint64(off))
			if size <= 0 {
				size = a.minStep
			}
			fc.insts = append(fc.insts, inst)
			off += size
		}
		funcs = append(funcs, fc)
	}
	sort.Strings(rep.Symbols)
	// Fixed point: a function of a system-call package is a wrapper when a trap or wrapper
	// call in it takes the number from its own first argument (passes it through).
	wrappers := map[string]bool{}
	for _, fc := range funcs {
		if seedWrappers[strings.TrimPrefix(fc.name, "vendor/")] {
			wrappers[fc.name] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, fc := range funcs {
			if wrappers[fc.name] || !syscallPackage(fc.name) {
				continue
			}
			for _, s := range sitesOf(fc, a, byEntry, wrappers) {
				if s.passthrough {
					wrappers[fc.name] = true
					changed = true
					break
				}
			}
		}
	}
	for _, fc := range funcs {
		for _, s := range sitesOf(fc, a, byEntry, wrappers) {
			switch {
			case s.Number >= 0:
				rep.Sites = append(rep.Sites, s.site)
			case !wrappers[fc.name]: // inside a wrapper, the number is its callers' business
				rep.Unresolved = append(rep.Unresolved, s.site)
			}
		}
	}
	for w := range wrappers {
		rep.Wrappers = append(rep.Wrappers, w)
	}
	sort.Strings(rep.Wrappers)
}

// The exported wrappers whose first argument is the trap number, even where it is passed on
// through a structure rather than a register (AllThreadsSyscall).
var seedWrappers = map[string]bool{
	"syscall.Syscall": true, "syscall.Syscall6": true, "syscall.RawSyscall": true, "syscall.RawSyscall6": true,
	"syscall.AllThreadsSyscall": true, "syscall.AllThreadsSyscall6": true,
	"golang.org/x/sys/unix.Syscall": true, "golang.org/x/sys/unix.Syscall6": true,
	"golang.org/x/sys/unix.RawSyscall": true, "golang.org/x/sys/unix.RawSyscall6": true,
	"golang.org/x/sys/unix.SyscallNoError": true, "golang.org/x/sys/unix.RawSyscallNoError": true,
	"internal/runtime/syscall/linux.Syscall6": true,
}

// A register's value as far as one pass through the function knows it.
type value struct {
	kind byte // 0 unknown, 'c' constant, 'i' the function's incoming first argument
	n    int64
}

type scanned struct {
	site
	passthrough bool
}

// sitesOf walks one function in order, following constants and the incoming first argument
// through registers and the first stack argument slot; a call or jump forgets everything.
func sitesOf(fc funcCode, a *arch, byEntry map[uint64]string, wrappers map[string]bool) []scanned {
	var out []scanned
	regs := map[int]value{a.argReg: {kind: 'i'}}
	slot := value{}
	// Where another path joins, what one path loaded is not known on the other: forget it.
	joins := map[uint64]bool{}
	for _, in := range fc.insts {
		if in.jump != 0 {
			joins[in.jump] = true
		}
	}
	number := func(v value) int64 {
		if v.kind == 'c' {
			return v.n
		}
		return -1
	}
	for _, in := range fc.insts {
		if joins[in.pc] {
			clear(regs)
			slot = value{}
		}
		switch {
		case in.trap:
			v := regs[a.numReg]
			out = append(out, scanned{site{Func: fc.name, PC: in.pc, Kind: "trap", Number: number(v)}, v.kind == 'i'})
		case in.call != 0 && wrappers[byEntry[in.call]]:
			v := regs[a.argReg]
			if slot.kind != 0 {
				v = slot // an ABI0 (assembly) wrapper takes its arguments on the stack
			}
			out = append(out, scanned{site{Func: fc.name, PC: in.pc, Kind: "call", Callee: byEntry[in.call],
				Number: number(v)}, v.kind == 'i'})
		}
		if in.slot >= 0 {
			slot = regs[in.slot]
		}
		if in.slotImm {
			slot = value{kind: 'c', n: in.slotVal}
		}
		if in.calls {
			clear(regs)
			slot = value{}
		}
		if in.writes >= 0 {
			switch {
			case in.isImm:
				regs[in.writes] = value{kind: 'c', n: in.imm}
			case in.src >= 0:
				regs[in.writes] = regs[in.src]
			case in.loadsArg0:
				regs[in.writes] = value{kind: 'i'}
			default:
				delete(regs, in.writes)
			}
		}
	}
	return out
}

func amd64() *arch {
	return &arch{name: "amd64", numReg: 0, argReg: 0, minStep: 1, decode: func(code []byte, pc uint64) (instruction, int) {
		in := instruction{pc: pc, writes: -1, slot: -1, src: -1}
		inst, err := x86asm.Decode(code, 64)
		if err != nil {
			return in, 1
		}
		switch inst.Op {
		case x86asm.SYSCALL:
			in.trap = true
		case x86asm.CALL:
			in.calls = true
			if rel, ok := inst.Args[0].(x86asm.Rel); ok {
				in.call = uint64(int64(pc) + int64(inst.Len) + int64(rel))
			}
		case x86asm.RET, x86asm.JMP:
			in.calls = true // a tail jump or return ends what is known
		}
		if rel, ok := inst.Args[0].(x86asm.Rel); ok && inst.Op != x86asm.CALL {
			in.jump = uint64(int64(pc) + int64(inst.Len) + int64(rel))
		}
		// An ABI0 (assembly) callee finds its first argument at 0(SP) of the caller.
		if m, ok := inst.Args[0].(x86asm.Mem); ok && inst.Op == x86asm.MOV && m.Base == x86asm.RSP &&
			m.Index == 0 && m.Disp == 0 && m.Segment == 0 {
			switch src := inst.Args[1].(type) {
			case x86asm.Imm:
				in.slotImm, in.slotVal = true, int64(src)
			case x86asm.Reg:
				in.slot = x86Index(src)
			}
		}
		if dst, ok := inst.Args[0].(x86asm.Reg); ok && !in.calls && !in.trap {
			idx := x86Index(dst)
			if idx >= 0 && writesFirst(inst.Op) {
				in.writes = idx
				if imm, ok := inst.Args[1].(x86asm.Imm); ok && inst.Op == x86asm.MOV {
					in.isImm, in.imm = true, int64(imm)
				}
				if src, ok := inst.Args[1].(x86asm.Reg); ok && inst.Op == x86asm.XOR && x86Index(src) == idx {
					in.isImm, in.imm = true, 0
				}
				if src, ok := inst.Args[1].(x86asm.Reg); ok && inst.Op == x86asm.MOV && x86Index(src) >= 0 {
					in.src = x86Index(src)
				}
				if m, ok := inst.Args[1].(x86asm.Mem); ok && inst.Op == x86asm.MOV && m.Base == x86asm.RSP &&
					m.Index == 0 && m.Disp == 8 {
					in.loadsArg0 = true
				}
			}
		}
		return in, inst.Len
	}}
}

// writesFirst: instructions that do not write their first operand.
func writesFirst(op x86asm.Op) bool {
	switch op {
	case x86asm.CMP, x86asm.TEST, x86asm.PUSH, x86asm.BT:
		return false
	}
	return true
}

func x86Index(r x86asm.Reg) int {
	switch {
	case r >= x86asm.AL && r <= x86asm.R15B:
		return int(r - x86asm.AL)
	case r >= x86asm.AX && r <= x86asm.R15W:
		return int(r - x86asm.AX)
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return int(r - x86asm.EAX)
	case r >= x86asm.RAX && r <= x86asm.R15:
		return int(r - x86asm.RAX)
	}
	return -1
}

func arm64() *arch {
	return &arch{name: "arm64", numReg: 8, argReg: 0, minStep: 4, decode: func(code []byte, pc uint64) (instruction, int) {
		in := instruction{pc: pc, writes: -1, slot: -1, src: -1}
		if len(code) < 4 {
			return in, 4
		}
		inst, err := arm64asm.Decode(code[:4])
		if err != nil {
			return in, 4
		}
		switch inst.Op {
		case arm64asm.SVC:
			in.trap = true
			return in, 4
		case arm64asm.BL:
			in.calls = true
			if rel, ok := inst.Args[0].(arm64asm.PCRel); ok {
				in.call = uint64(int64(pc) + int64(rel))
			}
			return in, 4
		case arm64asm.BLR, arm64asm.B, arm64asm.BR, arm64asm.RET:
			in.calls = inst.Op != arm64asm.B || inst.Args[1] == nil // B.cond only branches
			in.jump = arm64Target(inst, pc)
			return in, 4
		case arm64asm.CBZ, arm64asm.CBNZ, arm64asm.TBZ, arm64asm.TBNZ:
			in.jump = arm64Target(inst, pc)
			return in, 4
		}
		if inst.Args[0] == nil {
			return in, 4
		}
		idx := arm64Index(inst.Args[0])
		// An ABI0 (assembly) callee finds its first argument at 8(RSP) of the caller.
		if inst.Op == arm64asm.STR && idx >= 0 {
			if m, ok := inst.Args[1].(arm64asm.MemImmediate); ok && m.String() == "[SP,#8]" {
				in.slot = idx
			}
			return in, 4
		}
		if inst.Op == arm64asm.STP && idx >= 0 {
			if m, ok := inst.Args[2].(arm64asm.MemImmediate); ok && m.String() == "[SP,#8]" {
				in.slot = idx
			}
			return in, 4
		}
		if idx < 0 || inst.Op == arm64asm.CMP || inst.Op == arm64asm.CMN || inst.Op == arm64asm.TST ||
			inst.Op == arm64asm.STR || inst.Op == arm64asm.STP || inst.Op == arm64asm.STUR ||
			inst.Op == arm64asm.STRB || inst.Op == arm64asm.STRH || inst.Op == arm64asm.CBZ ||
			inst.Op == arm64asm.CBNZ || inst.Op == arm64asm.TBZ || inst.Op == arm64asm.TBNZ {
			return in, 4
		}
		in.writes = idx
		if inst.Op == arm64asm.MOV || inst.Op == arm64asm.MOVZ {
			switch v := inst.Args[1].(type) {
			case arm64asm.Imm64:
				in.isImm, in.imm = true, int64(v.Imm)
			case arm64asm.Imm:
				in.isImm, in.imm = true, int64(v.Imm)
			case arm64asm.Reg:
				in.src = arm64Index(v)
			}
		}
		if r, ok := inst.Args[1].(arm64asm.Reg); ok && inst.Op == arm64asm.ORR && (r == arm64asm.XZR || r == arm64asm.WZR) {
			switch v := inst.Args[2].(type) {
			case arm64asm.Imm64:
				in.isImm, in.imm = true, int64(v.Imm)
			case arm64asm.Imm:
				in.isImm, in.imm = true, int64(v.Imm)
			}
		}
		if m, ok := inst.Args[1].(arm64asm.MemImmediate); ok && (inst.Op == arm64asm.LDR || inst.Op == arm64asm.LDRSW) &&
			m.String() == "[SP,#8]" {
			in.loadsArg0 = true
		}
		return in, 4
	}}
}

func arm64Target(inst arm64asm.Inst, pc uint64) uint64 {
	for _, arg := range inst.Args {
		if rel, ok := arg.(arm64asm.PCRel); ok {
			return uint64(int64(pc) + int64(rel))
		}
	}
	return 0
}

func arm64Index(a arm64asm.Arg) int {
	var r arm64asm.Reg
	switch v := a.(type) {
	case arm64asm.Reg:
		r = v
	case arm64asm.RegSP:
		r = arm64asm.Reg(v)
	default:
		return -1
	}
	switch {
	case r >= arm64asm.W0 && r <= arm64asm.W30:
		return int(r - arm64asm.W0)
	case r >= arm64asm.X0 && r <= arm64asm.X30:
		return int(r - arm64asm.X0)
	}
	return -1
}
