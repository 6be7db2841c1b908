package gen

import (
	"math/big"
	"strings"
	"time"
)

// Decimal is a fixed-point number: Unscaled * 10^-Scale.
// It is the Go value for Decimal128 (and any Parquet DECIMAL) columns.
type Decimal struct {
	Unscaled *big.Int
	Scale    int32
}

// NewDecimal returns the Decimal unscaled * 10^-scale.
func NewDecimal(unscaled int64, scale int32) Decimal {
	return Decimal{Unscaled: big.NewInt(unscaled), Scale: scale}
}

// String formats d in plain decimal notation, e.g. "-12.34", "0.05", "100".
// A nil Unscaled is zero.
func (d Decimal) String() string {
	u := d.Unscaled
	if u == nil {
		u = new(big.Int)
	}
	if d.Scale <= 0 {
		v := new(big.Int).Mul(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-d.Scale)), nil))
		return v.String()
	}
	neg := u.Sign() < 0
	digits := new(big.Int).Abs(u).String()
	scale := int(d.Scale)
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	s := digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	if neg {
		s = "-" + s
	}
	return s
}

// Equal reports whether d and o have the same scale and unscaled value
// (nil Unscaled counts as zero).
func (d Decimal) Equal(o Decimal) bool {
	a, b := d.Unscaled, o.Unscaled
	if a == nil {
		a = new(big.Int)
	}
	if b == nil {
		b = new(big.Int)
	}
	return d.Scale == o.Scale && a.Cmp(b) == 0
}

// Date is a calendar date as days since 1970-01-01 (Arrow date32, Parquet DATE).
type Date int32

// DateOf returns the Date of the UTC calendar day of t.
func DateOf(t time.Time) Date {
	y, m, d := t.UTC().Date()
	return Date(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// Time returns the date as midnight UTC.
func (d Date) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String formats the date as yyyy-MM-dd.
func (d Date) String() string { return d.Time().Format("2006-01-02") }

// Time is a time of day in microseconds since midnight.
type Time int64

// String formats the time as HH:mm:ss.SSSSSS.
func (t Time) String() string {
	return time.UnixMicro(int64(t)).UTC().Format("15:04:05.000000")
}

// Timestamp is an instant in microseconds since 1970-01-01 00:00:00 UTC.
type Timestamp int64

// TimestampOf returns t truncated to microseconds.
func TimestampOf(t time.Time) Timestamp { return Timestamp(t.UnixMicro()) }

// Time returns the timestamp as a UTC time.Time.
func (ts Timestamp) Time() time.Time { return time.UnixMicro(int64(ts)).UTC() }

// String formats the timestamp as yyyy-MM-dd HH:mm:ss.SSSSSS (UTC).
func (ts Timestamp) String() string { return ts.Time().Format(TimestampLayout) }

// TimestampLayout is the layout of the DMS timestamp column (commit_ts):
// yyyy-MM-dd HH:mm:ss.SSSSSS, always UTC.
const TimestampLayout = "2006-01-02 15:04:05.000000"
