package engine

import (
	"fmt"
	"sync/atomic"
	"time"
)

// ClockMode says how the engine clock moves once packets stop coming.
type ClockMode uint8

const (
	// ClockPacket: the clock is the newest packet timestamp seen. Once every
	// file source has reached its end it stands still, so a replayed table
	// can be queried at leisure with the ages it had at the end of the file.
	ClockPacket ClockMode = iota
	// ClockWall: the clock is packet time while packets arrive and moves on
	// with the wall clock from the newest packet when they stop, so flows age
	// and expire in real time after a replay.
	ClockWall
)

func (m ClockMode) String() string {
	if m == ClockWall {
		return "wall"
	}
	return "packet"
}

// ParseClockMode accepts "packet" and "wall".
func ParseClockMode(s string) (ClockMode, error) {
	switch s {
	case "packet", "":
		return ClockPacket, nil
	case "wall":
		return ClockWall, nil
	}
	return 0, fmt.Errorf("clock %q: want packet or wall", s)
}

// clock is the engine clock: the newest packet time seen (Unix ns), plus,
// in wall mode, the wall time elapsed since that packet was read.
type clock struct {
	mode   ClockMode
	packet atomic.Int64 // newest packet timestamp
	wallAt atomic.Int64 // wall time (Unix ns) when packet last moved
}

// observe moves the clock to ts if ts is newer. Sources call it once per
// batch with the batch's newest timestamp.
func (c *clock) observe(ts int64) {
	for {
		cur := c.packet.Load()
		if ts <= cur {
			return
		}
		if c.packet.CompareAndSwap(cur, ts) {
			c.wallAt.Store(time.Now().UnixNano())
			return
		}
	}
}

// now returns the engine clock in Unix ns (0 before any packet).
func (c *clock) now() int64 {
	p := c.packet.Load()
	if c.mode == ClockWall && p != 0 {
		if d := time.Now().UnixNano() - c.wallAt.Load(); d > 0 {
			return p + d
		}
	}
	return p
}
