//go:build race

package filter

// raceEnabled scales the long randomized tests down under the race
// detector, which slows Compile tenfold; TestMatchConcurrent is the test
// that needs it.
const raceEnabled = true
