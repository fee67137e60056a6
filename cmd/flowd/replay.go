package main

import "errors"

// runReplay is the 'flowd replay' command. Not built yet.
func runReplay(args []string) error { return errors.New("replay: not implemented yet") }
