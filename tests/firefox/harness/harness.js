// Test-only: puts the pages' modules on `window.pages`, loaded in the
// page's own realm (a Marionette script's import() would evaluate them in
// its sandbox instead, where WebCrypto's results are unreadable Xrays).
import * as bytes from "/assets/bytes.js";
import * as hawk from "/assets/hawk.js";
import * as keys from "/assets/keys.js";
import * as onepw from "/assets/onepw.js";

window.pages = { bytes, hawk, keys, onepw };
document.getElementById("ready").hidden = false;
