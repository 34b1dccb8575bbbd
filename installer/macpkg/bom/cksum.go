package bom

// cksumTab is the CRC-32 table for the polynomial POSIX cksum uses
// (0x04C11DB7), processed most significant bit first. hash/crc32 only
// implements the bit-reflected form, which gives different values.
var cksumTab = cksumTable()

func cksumTable() *[256]uint32 {
	var t [256]uint32
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04c11db7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return &t
}

// Checksum is the POSIX cksum CRC of data, what `cksum` prints first and
// what Boms record for files and Mach-O slices.
func Checksum(data []byte) uint32 {
	t := cksumTab
	var crc uint32
	for _, b := range data {
		crc = crc<<8 ^ t[byte(crc>>24)^b]
	}
	// The length goes in too, least significant byte first, without
	// trailing zero bytes.
	for n := uint64(len(data)); n > 0; n >>= 8 {
		crc = crc<<8 ^ t[byte(crc>>24)^byte(n)]
	}
	return ^crc
}
