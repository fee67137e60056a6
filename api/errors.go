package api

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// The error types of the Network Firewall API (every flow operation
// declares exactly these four).
const (
	InvalidRequest   = "InvalidRequestException"
	ResourceNotFound = "ResourceNotFoundException"
	Throttling       = "ThrottlingException"
	InternalError    = "InternalServerError"
)

// UnknownOperation is what AWS answers a request for an operation it does
// not have (an X-Amz-Target it does not know), with HTTP 400.
const UnknownOperation = "UnknownOperationException"

// Error is an API error: its Type goes to X-Amzn-ErrorType and __type, its
// Message to Message.
type Error struct {
	Type    string
	Message string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// status is the HTTP status AWS answers the error with: 400 for the client
// errors (ResourceNotFound and Throttling too), 500 for internal ones.
func (e *Error) status() int {
	if e.Type == InternalError {
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

func errInvalid(format string, args ...any) *Error {
	return &Error{Type: InvalidRequest, Message: fmt.Sprintf(format, args...)}
}

func errNotFound(format string, args ...any) *Error {
	return &Error{Type: ResourceNotFound, Message: fmt.Sprintf(format, args...)}
}

// writeError answers with e in the awsJson1_0 error shape. status 0 means
// e's own.
func writeError(w http.ResponseWriter, status int, e *Error) {
	if status == 0 {
		status = e.status()
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Amzn-ErrorType", e.Type)
	w.WriteHeader(status)
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"Message"`
	}{e.Type, e.Message})
	w.Write(b)
}

const contentType = "application/x-amz-json-1.0"
