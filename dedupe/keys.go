package dedupe

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// AppendFunc appends the order-preserving encoding of row i of a column.
type AppendFunc func(buf []byte, i int) []byte

// ColumnEncoder returns the order-preserving encoder for a key column.
// Strings and binaries are escaped and terminated so that the encoding of
// several columns concatenated still compares column by column.
func ColumnEncoder(col arrow.Array) (AppendFunc, error) {
	switch c := col.(type) {
	case *array.Int32:
		return func(b []byte, i int) []byte { return AppendInt(b, int64(c.Value(i))) }, nil
	case *array.Int64:
		return func(b []byte, i int) []byte { return AppendInt(b, c.Value(i)) }, nil
	case *array.Date32:
		return func(b []byte, i int) []byte { return AppendInt(b, int64(c.Value(i))) }, nil
	case *array.Time64:
		return func(b []byte, i int) []byte { return AppendInt(b, int64(c.Value(i))) }, nil
	case *array.Timestamp:
		return func(b []byte, i int) []byte { return AppendInt(b, int64(c.Value(i))) }, nil
	case *array.String:
		return func(b []byte, i int) []byte { return AppendBytes(b, []byte(c.Value(i))) }, nil
	case *array.Binary:
		return func(b []byte, i int) []byte { return AppendBytes(b, c.Value(i)) }, nil
	case *array.FixedSizeBinary:
		return func(b []byte, i int) []byte { return append(b, c.Value(i)...) }, nil
	case *array.Boolean:
		return func(b []byte, i int) []byte {
			if c.Value(i) {
				return append(b, 1)
			}
			return append(b, 0)
		}, nil
	case *array.Decimal128:
		return func(b []byte, i int) []byte { return AppendDecimal(b, c.Value(i)) }, nil
	case *array.Float32:
		return func(b []byte, i int) []byte { return AppendFloat(b, float64(c.Value(i))) }, nil
	case *array.Float64:
		return func(b []byte, i int) []byte { return AppendFloat(b, c.Value(i)) }, nil
	}
	return nil, fmt.Errorf("type %s cannot be a key column", col.DataType())
}

// AppendInt appends v so that encodings compare like the integers.
func AppendInt(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(v)^(1<<63))
}

// AppendDecimal appends a 128-bit decimal (same scale) so that encodings
// compare like the numbers.
func AppendDecimal(b []byte, v decimal128.Num) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(v.HighBits())^(1<<63))
	return binary.BigEndian.AppendUint64(b, v.LowBits())
}

// AppendFloat appends an IEEE float so that encodings compare like numbers.
func AppendFloat(b []byte, f float64) []byte {
	u := math.Float64bits(f)
	if u&(1<<63) != 0 {
		u = ^u
	} else {
		u |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(b, u)
}

// AppendBytes appends s escaped (0x00 -> 0x00 0xFF) and terminated by
// 0x00 0x01, which keeps byte order and makes the encoding self-delimiting.
func AppendBytes(b, s []byte) []byte {
	for _, c := range s {
		if c == 0 {
			b = append(b, 0, 0xFF)
		} else {
			b = append(b, c)
		}
	}
	return append(b, 0, 1)
}

// KeyEncoder encodes the key columns of one record.
type KeyEncoder struct {
	cols  []arrow.Array
	names []string
	enc   []AppendFunc
}

// NewKeyEncoder prepares an encoder over rec's columns at idx.
func NewKeyEncoder(rec arrow.RecordBatch, idx []int) (*KeyEncoder, error) {
	k := &KeyEncoder{}
	for _, i := range idx {
		col := rec.Column(i)
		f, err := ColumnEncoder(col)
		if err != nil {
			return nil, fmt.Errorf("key column %q: %w", rec.ColumnName(i), err)
		}
		k.cols = append(k.cols, col)
		k.names = append(k.names, rec.ColumnName(i))
		k.enc = append(k.enc, f)
	}
	return k, nil
}

// Append appends row i's key to buf. It returns the name of a key column
// that is null in that row, if any (and then the key is not usable).
func (k *KeyEncoder) Append(buf []byte, i int) ([]byte, string) {
	for j, c := range k.cols {
		if c.IsNull(i) {
			return buf, k.names[j]
		}
		buf = k.enc[j](buf, i)
	}
	return buf, ""
}

// AppendFirst appends only the first key column of row i.
func (k *KeyEncoder) AppendFirst(buf []byte, i int) []byte {
	return k.enc[0](buf, i)
}
