package flowlog

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FileFormat is DestinationOptions.FileFormat.
type FileFormat string

// File formats of S3 objects.
const (
	FilePlainText FileFormat = "plain-text"
	FileParquet   FileFormat = "parquet"
)

// S3Destination is a parsed S3 LogDestination, arn:aws:s3:::bucket[/prefix].
type S3Destination struct {
	Bucket string
	Prefix string // without leading or trailing '/'; may be empty
}

// ParseS3Destination parses an S3 bucket ARN with an optional subfolder.
// AWS refuses AWSLogs as a subfolder name because it writes its own AWSLogs
// folder under the prefix; so does this function.
func ParseS3Destination(arn string) (S3Destination, error) {
	_, rest, ok := cutARN(arn, "s3")
	if !ok {
		return S3Destination{}, fmt.Errorf("%q is not an S3 bucket ARN (arn:aws:s3:::bucket or arn:aws:s3:::bucket/prefix/)", arn)
	}
	if !strings.HasPrefix(rest, "::") {
		return S3Destination{}, fmt.Errorf("%q is not an S3 bucket ARN: region and account must be empty (arn:aws:s3:::bucket)", arn)
	}
	rest = rest[2:]
	bucket, prefix, _ := strings.Cut(rest, "/")
	if err := checkBucketName(bucket); err != nil {
		return S3Destination{}, fmt.Errorf("%q: %w", arn, err)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		for _, seg := range strings.Split(prefix, "/") {
			switch {
			case seg == "":
				return S3Destination{}, fmt.Errorf("%q: subfolder %q has an empty path segment", arn, prefix)
			case seg == "AWSLogs":
				return S3Destination{}, fmt.Errorf("%q: AWSLogs cannot be used as a subfolder name; AWS writes its own AWSLogs folder under the subfolder", arn)
			case seg == "." || seg == "..":
				return S3Destination{}, fmt.Errorf("%q: subfolder %q has a %q segment", arn, prefix, seg)
			}
		}
		if len(prefix) > 512 {
			return S3Destination{}, fmt.Errorf("%q: subfolder is %d bytes long (512 at most)", arn, len(prefix))
		}
	}
	return S3Destination{Bucket: bucket, Prefix: prefix}, nil
}

// cutARN checks "arn:PARTITION:SERVICE:" and returns the partition and the
// text after the service's colon.
func cutARN(arn, service string) (partition, rest string, ok bool) {
	rest, ok = strings.CutPrefix(arn, "arn:")
	if !ok {
		return "", "", false
	}
	partition, rest, ok = strings.Cut(rest, ":")
	if !ok || (partition != "aws" && !strings.HasPrefix(partition, "aws-")) {
		return "", "", false
	}
	rest, ok = strings.CutPrefix(rest, service+":")
	return partition, rest, ok
}

// checkBucketName applies the S3 bucket naming rules: 3-63 characters of
// lower-case letters, digits, dots and hyphens, starting and ending with a
// letter or digit, no "..".
func checkBucketName(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q must be 3 to 63 characters long", b)
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '.' || c == '-':
			if i == 0 || i == len(b)-1 {
				return fmt.Errorf("bucket name %q must start and end with a lower-case letter or digit", b)
			}
		default:
			return fmt.Errorf("bucket name %q may hold only lower-case letters, digits, '.' and '-'", b)
		}
	}
	if strings.Contains(b, "..") {
		return fmt.Errorf("bucket name %q must not contain \"..\"", b)
	}
	return nil
}

// S3Layout names the objects of one flow log in one account and region.
type S3Layout struct {
	Prefix     string // subfolder from the bucket ARN; may be empty
	AccountID  string // account of the monitored resource
	Region     string // region of the monitored resource
	FlowLogID  string // fl-...
	FileFormat FileFormat
	Hive       bool // DestinationOptions.HiveCompatiblePartitions
	PerHour    bool // DestinationOptions.PerHourPartition
}

// ObjectPeriod is how much time one S3 object covers: records whose end time
// falls in the same 5 minutes go to the same object.
const ObjectPeriod = 5 * time.Minute

// Dir returns the folder (with a trailing '/') of the objects whose period
// starts at t, for example
// prefix/AWSLogs/123456789012/vpcflowlogs/us-east-1/2018/06/20/.
func (l S3Layout) Dir(t time.Time) string {
	return string(l.appendDir(nil, t.UTC()))
}

func (l S3Layout) appendDir(b []byte, t time.Time) []byte {
	if l.Prefix != "" {
		b = append(b, l.Prefix...)
		b = append(b, '/')
	}
	b = append(b, "AWSLogs/"...)
	y, m, d := t.Date()
	if l.Hive {
		b = append(b, "aws-account-id="...)
		b = append(b, l.AccountID...)
		b = append(b, "/aws-service=vpcflowlogs/aws-region="...)
		b = append(b, l.Region...)
		b = append(b, "/year="...)
		b = appendPad(b, y, 4)
		b = append(b, "/month="...)
		b = appendPad(b, int(m), 2)
		b = append(b, "/day="...)
		b = appendPad(b, d, 2)
		b = append(b, '/')
		if l.PerHour {
			b = append(b, "hour="...)
			b = appendPad(b, t.Hour(), 2)
			b = append(b, '/')
		}
		return b
	}
	b = append(b, l.AccountID...)
	b = append(b, "/vpcflowlogs/"...)
	b = append(b, l.Region...)
	b = append(b, '/')
	b = appendPad(b, y, 4)
	b = append(b, '/')
	b = appendPad(b, int(m), 2)
	b = append(b, '/')
	b = appendPad(b, d, 2)
	b = append(b, '/')
	if l.PerHour {
		b = appendPad(b, t.Hour(), 2)
		b = append(b, '/')
	}
	return b
}

// FileName returns the object's file name for the period starting at t, e.g.
// 123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz.
// hash tells apart objects of one period; AWS writes eight hex digits.
func (l S3Layout) FileName(t time.Time, hash uint32) string {
	return string(l.appendFileName(nil, t.UTC(), hash))
}

func (l S3Layout) appendFileName(b []byte, t time.Time, hash uint32) []byte {
	b = append(b, l.AccountID...)
	b = append(b, "_vpcflowlogs_"...)
	b = append(b, l.Region...)
	b = append(b, '_')
	b = append(b, l.FlowLogID...)
	b = append(b, '_')
	y, m, d := t.Date()
	b = appendPad(b, y, 4)
	b = appendPad(b, int(m), 2)
	b = appendPad(b, d, 2)
	b = append(b, 'T')
	b = appendPad(b, t.Hour(), 2)
	b = appendPad(b, t.Minute(), 2)
	b = append(b, "Z_"...)
	h := strconv.FormatUint(uint64(hash), 16)
	for i := len(h); i < 8; i++ {
		b = append(b, '0')
	}
	b = append(b, h...)
	if l.FileFormat == FileParquet {
		return append(b, ".log.parquet"...)
	}
	return append(b, ".log.gz"...)
}

// Key returns the object key (without the bucket) of the object for the
// 5-minute period that holds t. t is truncated to the period.
func (l S3Layout) Key(t time.Time, hash uint32) string {
	t = t.UTC().Truncate(ObjectPeriod)
	b := l.appendDir(make([]byte, 0, 160), t)
	return string(l.appendFileName(b, t, hash))
}

func appendPad(b []byte, v, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], int64(v), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}
