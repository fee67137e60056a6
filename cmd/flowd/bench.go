package main

import "errors"

// runBench is the 'flowd bench' command. Not built yet.
func runBench(args []string) error { return errors.New("bench: not implemented yet") }
