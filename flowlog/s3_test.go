package flowlog

import (
	"strings"
	"testing"
	"time"
)

func TestParseS3Destination(t *testing.T) {
	for _, c := range []struct {
		arn            string
		bucket, prefix string
		err            string
	}{
		{arn: "arn:aws:s3:::my-bucket", bucket: "my-bucket"},
		{arn: "arn:aws:s3:::my-bucket/", bucket: "my-bucket"},
		{arn: "arn:aws:s3:::my_bucket", err: "may hold only"},
		{arn: "arn:aws:s3:::my-bucket/my-subfolder/", bucket: "my-bucket", prefix: "my-subfolder"},
		{arn: "arn:aws:s3:::my.bucket/a/b", bucket: "my.bucket", prefix: "a/b"},
		{arn: "arn:aws-cn:s3:::bucket-cn/x", bucket: "bucket-cn", prefix: "x"},
		{arn: "arn:aws:s3:::my-bucket/AWSLogs/", err: "AWSLogs cannot be used"},
		{arn: "arn:aws:s3:::my-bucket/logs/AWSLogs", err: "AWSLogs cannot be used"},
		{arn: "arn:aws:s3:::my-bucket/awslogs", bucket: "my-bucket", prefix: "awslogs"},
		{arn: "arn:aws:s3:::my-bucket/a//b", err: "empty path segment"},
		{arn: "arn:aws:s3:::my-bucket/../b", err: `".." segment`},
		{arn: "arn:aws:s3:us-east-1::my-bucket", err: "region and account must be empty"},
		{arn: "arn:aws:logs:::my-bucket", err: "not an S3 bucket ARN"},
		{arn: "s3://my-bucket", err: "not an S3 bucket ARN"},
		{arn: "arn:aws:s3:::", err: "3 to 63"},
		{arn: "arn:aws:s3:::ab", err: "3 to 63"},
		{arn: "arn:aws:s3:::My-Bucket", err: "may hold only"},
		{arn: "arn:aws:s3:::-bucket", err: "start and end"},
		{arn: "arn:aws:s3:::a..b", err: `".."`},
	} {
		d, err := ParseS3Destination(c.arn)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.arn, err, c.err)
			}
			continue
		}
		if err != nil || d.Bucket != c.bucket || d.Prefix != c.prefix {
			t.Errorf("%s: %+v %v, want %s %q", c.arn, d, err, c.bucket, c.prefix)
		}
	}
}

// TestS3Keys checks every layout of the AWS documentation, with the file
// name of the documented example.
func TestS3Keys(t *testing.T) {
	at := time.Date(2018, 6, 20, 16, 22, 31, 0, time.UTC) // in the 16:20 period
	base := S3Layout{AccountID: "123456789012", Region: "us-east-1", FlowLogID: "fl-1234abcd"}
	const name = "123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz"
	for _, c := range []struct {
		name string
		mod  func(*S3Layout)
		want string
	}{
		{"default", func(*S3Layout) {}, "AWSLogs/123456789012/vpcflowlogs/us-east-1/2018/06/20/" + name},
		{"prefix", func(l *S3Layout) { l.Prefix = "my-subfolder" },
			"my-subfolder/AWSLogs/123456789012/vpcflowlogs/us-east-1/2018/06/20/" + name},
		{"hive", func(l *S3Layout) { l.Hive = true },
			"AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2018/month=06/day=20/" + name},
		{"per hour", func(l *S3Layout) { l.PerHour = true },
			"AWSLogs/123456789012/vpcflowlogs/us-east-1/2018/06/20/16/" + name},
		{"hive per hour with prefix", func(l *S3Layout) { l.Hive, l.PerHour, l.Prefix = true, true, "a/b" },
			"a/b/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2018/month=06/day=20/hour=16/" + name},
		{"parquet", func(l *S3Layout) { l.FileFormat = FileParquet },
			"AWSLogs/123456789012/vpcflowlogs/us-east-1/2018/06/20/" + strings.TrimSuffix(name, ".gz") + ".parquet"},
	} {
		l := base
		c.mod(&l)
		if got := l.Key(at, 0xfe123456); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	// Zero padding, a small hash, another zone's clock, the period boundary.
	l := base
	l.PerHour = true
	at = time.Date(2024, 1, 2, 3, 4, 59, 0, time.FixedZone("x", 3600)) // 02:04:59Z
	want := "AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/01/02/02/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20240102T0200Z_0000000a.log.gz"
	if got := l.Key(at, 10); got != want {
		t.Errorf("padding:\n got %s\nwant %s", got, want)
	}
	if got := l.Key(time.Date(2024, 1, 2, 2, 5, 0, 0, time.UTC), 10); !strings.Contains(got, "T0205Z") {
		t.Errorf("period boundary: %s", got)
	}
	if got := base.Dir(time.Date(2024, 12, 31, 23, 59, 0, 0, time.UTC)); got != "AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/12/31/" {
		t.Errorf("Dir: %s", got)
	}
}
