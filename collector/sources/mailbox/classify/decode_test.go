package classify

import (
	"strings"
	"testing"
)

func TestDecodeUTF7(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Hi Mom -+Jjo--!", "Hi Mom -☺-!"},
		{"+ZeVnLIqe-", "日本語"},
		{"A+ImIDkQ.", "A≢Α."},
		{"1 +- 1 = 2", "1 + 1 = 2"},
		{"Price: +AKM-20", "Price: £20"},
		{"lone + sign", "lone + sign"},
		{"+!!!", "+!!!"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := decodeUTF7(tt.in); got != tt.want {
			t.Errorf("decodeUTF7(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDecodeQP(t *testing.T) {
	tests := []struct{ in, want string }{
		{"caf=C3=A9", "café"},
		{"soft=\r\nbreak", "softbreak"},
		{"soft=\nbreak", "softbreak"},
		{"trailing=  \r\nspace", "trailingspace"},
		{"bad =ZZ escape", "bad =ZZ escape"},
		{"ends with =", "ends with ="},
		{"=3D", "="},
	}
	for _, tt := range tests {
		if got := string(decodeQP([]byte(tt.in))); got != tt.want {
			t.Errorf("decodeQP(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDecodeBase64(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		corrupt bool
	}{
		{"SGVsbG8sIHdv\r\ncmxkIQ==", "Hello, world!", false},
		{"SGVs bG8=", "Hello", false},
		{"SGVsbG8", "Hello", false},
		{"SGVsbG8sIHdv!!cmxkIQ==", "Hello, wo", true},
		{"!!!!", "", true},
	}
	for _, tt := range tests {
		got, corrupt := decodeBase64([]byte(tt.in))
		if string(got) != tt.want || corrupt != tt.corrupt {
			t.Errorf("decodeBase64(%q) = %q %v, want %q %v", tt.in, got, corrupt, tt.want, tt.corrupt)
		}
	}
}

func TestToUTF8(t *testing.T) {
	tests := []struct{ in, charset, want string }{
		{"caf\xe9 \x80", "windows-1252", "café €"},
		{"caf\xe9", "iso-8859-1", "café"},
		{"café", "windows-1252", "café"},          // mislabelled UTF-8 stays
		{"1,00 \u0080", "windows-1252", "1,00 €"}, // C1 control read as the 1252 byte
		{"caf\xe9", "", "café"},                   // undeclared 8-bit: Windows-1252
		{"\x1b$B$3$s$K$A$O\x1b(B", "iso-2022-jp", "こんにちは"},
		{"\xc4\xfa\xba\xc3", "gb2312", "您好"},
		{"\xc4\xfa\xba\xc3", "eucgb2312_cn", "您好"},
		{"plain", "x-no-such-charset", "plain"},
		{"+ZeVnLIqe-", "utf-7", "日本語"},
	}
	for _, tt := range tests {
		if got := toUTF8(tt.in, tt.charset); got != tt.want {
			t.Errorf("toUTF8(%q, %q) = %q, want %q", tt.in, tt.charset, got, tt.want)
		}
	}
}

func TestDecodeHeader(t *testing.T) {
	tests := []struct{ in, want string }{
		{"=?utf-8?q?Your_receipt_from_Caf=C3=A9?=", "Your receipt from Café"},
		{"=?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=", "こんにちは"},
		{"=?utf-7?q?+ZeVnLIqe-?=", "日本語"},
		{"=?bogus?q?x?= plain", "x plain"}, // an unknown charset is read as UTF-8 or Windows-1252
		{"Plain subject", "Plain subject"},
	}
	for _, tt := range tests {
		if got := decodeHeader(tt.in); got != tt.want {
			t.Errorf("decodeHeader(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHTMLToText(t *testing.T) {
	in := `<html><head><title>T</title><style>td{color:red}</style></head><body>
<script>var total = "$999.00";</script>
<p>Thanks&nbsp;for your order</p>
<table><tr><td>Subtotal</td><td>$18.00</td></tr><tr><td>Total</td><td><strong>$20.00</strong></td></tr></table>
<div>Questions?<br>Reply</div></body></html>`
	got := htmlToText(in)
	for _, want := range []string{"Thanks for your order", "Total\t$20.00", "Questions?\nReply"} {
		if !strings.Contains(got, want) {
			t.Errorf("htmlToText lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"999", "color:red", "T\n"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("htmlToText kept %q:\n%s", unwanted, got)
		}
	}
}

func TestContentTypeLenient(t *testing.T) {
	tests := []struct {
		in, mediaType, boundary string
	}{
		{`multipart/alternative; boundary="abc"`, "multipart/alternative", "abc"},
		{`multipart/mixed; boundary=abc; boundary=def`, "multipart/mixed", "abc"},
		{`Multipart/Mixed; boundary="a b"; charset=`, "multipart/mixed", "a b"},
		{``, "text/plain", ""},
	}
	for _, tt := range tests {
		mt, params := contentType(tt.in)
		if mt != tt.mediaType || params["boundary"] != tt.boundary {
			t.Errorf("contentType(%q) = %q %q, want %q %q", tt.in, mt, params["boundary"], tt.mediaType, tt.boundary)
		}
	}
}
