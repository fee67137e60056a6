package capture

import (
	"encoding/binary"
	"testing"

	"github.com/flowd/flowd/internal/sys"
)

// runCBPF interprets a classic BPF program over frame as the fanout sees
// it: loads with SKF_LL_OFF offsets read from the frame's start (its MAC
// header). A load out of range ends the program with 0, as in the kernel.
func runCBPF(t *testing.T, prog []sys.SockFilter, frame []byte) uint32 {
	t.Helper()
	var a, x uint32
	var mem [16]uint32
	load := func(off uint32, size int) (uint32, bool) {
		if off < skfLLOff {
			t.Fatalf("load at %#x is not relative to the MAC header", off)
		}
		o := int(off - skfLLOff)
		if o+size > len(frame) {
			return 0, false
		}
		switch size {
		case 1:
			return uint32(frame[o]), true
		case 2:
			return uint32(binary.BigEndian.Uint16(frame[o:])), true
		}
		return binary.BigEndian.Uint32(frame[o:]), true
	}
	size := func(code uint16) int { return [...]int{4, 2, 1, 0}[code>>3&3] }
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		src := in.K
		if in.Code&bpfX != 0 {
			src = x
		}
		switch in.Code & 7 {
		case bpfLD:
			switch in.Code & 0xe0 {
			case bpfABS, bpfIND:
				off := in.K
				if in.Code&0xe0 == bpfIND {
					off += x
				}
				v, ok := load(off, size(in.Code))
				if !ok {
					return 0
				}
				a = v
			case bpfMEM:
				a = mem[in.K]
			case bpfIMM:
				a = in.K
			default:
				t.Fatalf("pc %d: op %#x", pc, in.Code)
			}
		case bpfLDX:
			switch in.Code & 0xe0 {
			case bpfMEM:
				x = mem[in.K]
			case bpfIMM:
				x = in.K
			default:
				t.Fatalf("pc %d: op %#x", pc, in.Code)
			}
		case bpfST:
			mem[in.K] = a
		case bpfSTX:
			mem[in.K] = x
		case bpfALU:
			switch in.Code & 0xf0 {
			case bpfADD:
				a += src
			case bpfMUL:
				a *= src
			case bpfAND:
				a &= src
			case bpfLSH:
				a <<= src
			case bpfRSH:
				a >>= src
			case bpfXOR:
				a ^= src
			default:
				t.Fatalf("pc %d: op %#x", pc, in.Code)
			}
		case bpfJMP:
			var ok bool
			switch in.Code & 0xf0 {
			case bpfJA:
				pc += int(in.K)
				continue
			case bpfJEQ:
				ok = a == src
			case bpfJGE:
				ok = a >= src
			case bpfJSET:
				ok = a&src != 0
			default:
				t.Fatalf("pc %d: op %#x", pc, in.Code)
			}
			if ok {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case bpfRET:
			if in.Code&bpfA != 0 {
				return a
			}
			return in.K
		case bpfMISC:
			if in.Code&0xf8 == bpfTXA {
				a = x
			} else {
				x = a
			}
		}
	}
	t.Fatal("program ran off its end")
	return 0
}
