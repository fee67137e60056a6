package ipfix

import "time"

// pacer spaces messages out: at most burst messages at once, then one every
// interval (a token bucket kept as the time the next message is due, which
// needs no refill arithmetic). It reads time only through its arguments, so
// tests drive it with a fake clock.
type pacer struct {
	interval time.Duration // 0: unpaced
	burst    int
	due      time.Time // when the bucket would be empty again
}

func newPacer(perSecond, burst int) pacer {
	if perSecond <= 0 {
		return pacer{}
	}
	if burst < 1 {
		burst = 1
	}
	return pacer{interval: time.Second / time.Duration(perSecond), burst: burst}
}

// wait returns how long to wait before the next message may go; zero means
// now, and the message is then counted as sent.
func (p *pacer) wait(now time.Time) time.Duration {
	if p.interval == 0 {
		return 0
	}
	due := p.due
	if due.Before(now) {
		due = now
	}
	// A message may go while the bucket still has room for one more:
	// due - now < burst × interval.
	slack := time.Duration(p.burst-1) * p.interval
	if d := due.Sub(now) - slack; d > 0 {
		return d
	}
	p.due = due.Add(p.interval)
	return 0
}
