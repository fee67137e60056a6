package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Error is a failed request about one bucket or object, with the server's
// code and message in Err.
type Error struct {
	Op     string // "upload" or "check"
	Bucket string
	Key    string // empty for bucket-wide operations
	Err    error
}

func (e *Error) Error() string {
	where := "s3://" + e.Bucket
	if e.Key != "" {
		where += "/" + e.Key
	}
	msg := fmt.Sprintf("s3store: %s %s: %v", e.Op, where, e.Err)
	if IsNoSuchBucket(e.Err) {
		msg += fmt.Sprintf(" (bucket %q must exist: flowd does not create buckets)", e.Bucket)
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// IsNoSuchBucket reports whether err says the bucket does not exist.
func IsNoSuchBucket(err error) bool {
	var nsb *types.NoSuchBucket
	if errors.As(err, &nsb) {
		return true
	}
	var nf *types.NotFound // HeadBucket has no body, so no code
	if errors.As(err, &nf) {
		return true
	}
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "NoSuchBucket"
}

// permanent reports whether the server refused a request in a way that
// trying again cannot change: a malformed request about this object. A
// missing bucket, denied access or bad credentials are not permanent: an
// operator can fix them while the object waits in the spool.
func permanent(err error) bool {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "RequestTimeout", "RequestTimeTooSkewed", "ExpiredToken", "TokenRefreshRequired",
			"SlowDown", "InternalError", "ServiceUnavailable", "NoSuchBucket", "NoSuchUpload":
			return false
		case "InvalidBucketName", "KeyTooLongError", "EntityTooLarge", "EntityTooSmall", "InvalidArgument":
			return true
		}
	}
	switch re.HTTPStatusCode() {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusRequestURITooLong:
		return true
	}
	return false
}

// upload makes one try of sending it: one PutObject, or a multipart upload
// for an object over PartSize. Parts are read straight from the spool file,
// one at a time, so memory does not grow with the part size.
func (s *Store) upload(ctx context.Context, it *item) error {
	f, err := os.Open(it.path)
	if err != nil {
		return err
	}
	defer f.Close()
	if it.size <= s.cfg.PartSize {
		_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        aws.String(it.bucket),
			Key:           aws.String(it.key),
			Body:          io.NewSectionReader(f, it.off, it.size),
			ContentLength: aws.Int64(it.size),
		})
		return err
	}
	return s.multipart(ctx, f, it)
}

func (s *Store) multipart(ctx context.Context, f *os.File, it *item) error {
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(it.bucket),
		Key:    aws.String(it.key),
	})
	if err != nil {
		return err
	}
	var parts []types.CompletedPart
	for n, off := int32(1), int64(0); off < it.size; n, off = n+1, off+s.cfg.PartSize {
		size := min(s.cfg.PartSize, it.size-off)
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket:        aws.String(it.bucket),
			Key:           aws.String(it.key),
			UploadId:      created.UploadId,
			PartNumber:    aws.Int32(n),
			Body:          io.NewSectionReader(f, it.off+off, size),
			ContentLength: aws.Int64(size),
		})
		if err != nil {
			s.abortMultipart(it, created.UploadId)
			return fmt.Errorf("part %d: %w", n, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(it.bucket),
		Key:             aws.String(it.key),
		UploadId:        created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		s.abortMultipart(it, created.UploadId)
	}
	return err
}

// abortMultipart frees the parts of a failed upload, best effort: the next
// try starts a new upload, and a bucket lifecycle rule should clean up
// whatever an abort that also failed leaves.
func (s *Store) abortMultipart(it *item, id *string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(it.bucket), Key: aws.String(it.key), UploadId: id,
	})
}
