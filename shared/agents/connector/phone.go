package connector

import "strings"

// PhoneDigits is a phone number as the platforms that take digits hold it: its digits only,
// a North American number (11 digits starting with the country code 1) without the 1.
func PhoneDigits(phone string) string {
	var b strings.Builder
	for _, c := range phone {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	d := b.String()
	if len(d) == 11 && d[0] == '1' {
		d = d[1:]
	}
	return d
}
