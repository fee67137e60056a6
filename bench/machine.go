package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes where a report was measured.
type Machine struct {
	CPUs       int     `json:"cpus"` // runtime.NumCPU: what nproc says
	GOMAXPROCS int     `json:"gomaxprocs"`
	CPUModel   string  `json:"cpu_model"`
	Kernel     string  `json:"kernel"`
	OS         string  `json:"os"`
	Arch       string  `json:"arch"`
	GoVersion  string  `json:"go_version"`
	MemBytes   uint64  `json:"mem_bytes,omitempty"`
	Load1      float64 `json:"load1"` // 1-minute load average when the run started: how shared the machine was
}

// ReadMachine describes this machine. Fields it cannot learn are empty.
func ReadMachine() Machine {
	m := Machine{
		CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		OS: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version(),
		CPUModel: "unknown", Kernel: runtime.GOOS,
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if v := procField("/proc/cpuinfo", "model name", ':'); v != "" {
		m.CPUModel = v
	}
	if v := procField("/proc/meminfo", "MemTotal", ':'); v != "" {
		if kb, err := strconv.ParseUint(strings.TrimSuffix(v, " kB"), 10, 64); err == nil {
			m.MemBytes = kb * 1024
		}
	}
	m.Load1 = LoadAverage()
	return m
}

// LoadAverage returns the 1-minute load average, or -1 when unknown.
func LoadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// procField returns the value of the first "name<sep> value" line of a
// /proc file, trimmed.
func procField(path, name string, sep byte) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		k, v, ok := strings.Cut(line, string(sep))
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// String is the one-line form used in tables: "2 × AMD EPYC, Linux
// 6.18.44, go1.26.8, load 3.1".
func (m Machine) String() string {
	s := fmt.Sprintf("%d × %s, %s %s, %s", m.CPUs, m.CPUModel, osName(m.OS), m.Kernel, m.GoVersion)
	if m.Load1 >= 0 {
		s += fmt.Sprintf(", load %.1f", m.Load1)
	}
	return s
}

func osName(goos string) string {
	if goos == "linux" {
		return "Linux"
	}
	return goos
}
