// shadowmap web view: small progressive enhancements only; every page
// works without JavaScript.
"use strict";
