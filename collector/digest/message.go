package digest

// Message is a rendered digest: what goes into the email.
type Message struct {
	Subject string
	// Text and HTML are the two alternatives of a multipart/alternative
	// body; HTML uses inline CSS and tables so it renders in Gmail and
	// Outlook.
	Text string
	HTML string
}
