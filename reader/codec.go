package reader

import (
	"fmt"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/snappy"
)

// boundedSnappy is arrow-go's Snappy codec with one check first: a Snappy
// block starts with the length it decodes to, and the codec allocates that
// much when the page's buffer is smaller. In a corrupt file the length is
// anything (a 1 KB file made the decoder allocate 64 MiB); a block that
// claims more than its page header is refused before any allocation.
type boundedSnappy struct{ compress.Codec }

func (c boundedSnappy) DecodeWithError(dst, src []byte) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return nil, fmt.Errorf("snappy: %w", err)
	}
	if n > len(dst) {
		return nil, fmt.Errorf("snappy data claims %d bytes decoded, the page header %d", n, len(dst))
	}
	if ec, ok := c.Codec.(compress.ErrorCodec); ok {
		return ec.DecodeWithError(dst, src)
	}
	return compress.Decode(c.Codec, dst, src)
}

func (c boundedSnappy) Decode(dst, src []byte) []byte {
	out, err := c.DecodeWithError(dst, src)
	if err != nil {
		panic(err) // compress.Decode turns it back into an error
	}
	return out
}

func init() {
	if c, err := compress.GetCodec(compress.Codecs.Snappy); err == nil {
		compress.RegisterCodec(compress.Codecs.Snappy, boundedSnappy{c})
	}
}
