"""What the tests make Firefox do, in Firefox's own JavaScript (chrome
context): sign in along the production web-channel path, sync, and make or
read bookmarks, history, logins and addresses."""

from __future__ import annotations

import time
from typing import Any

from firefox.browser import Firefox, FirefoxError
from support.mock_fxa import SYNC_SCOPE, Account, MockFxA

SYNC_TIMEOUT = 120.0  # one sync; the largest (thousands of records) takes ~20 s here

IMPORTS = """
const { FxAccountsWebChannelHelpers } = ChromeUtils.importESModule("resource://gre/modules/FxAccountsWebChannel.sys.mjs");
const { getFxAccountsSingleton } = ChromeUtils.importESModule("resource://gre/modules/FxAccounts.sys.mjs");
const { Weave } = ChromeUtils.importESModule("resource://services-sync/main.sys.mjs");
const { PlacesUtils } = ChromeUtils.importESModule("resource://gre/modules/PlacesUtils.sys.mjs");
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
"""


def sign_in(firefox: Firefox, fxa: MockFxA, account: Account) -> None:
    """What accounts.firefox.com's page and Firefox say to each other over
    the web channel: oauthBegin, the page's authorization, login, oauthLogin
    (Firefox then exchanges the code with PKCE and decrypts keys_jwe)."""
    params = firefox.run(IMPORTS + f"""
        return await new FxAccountsWebChannelHelpers().oauthBegin(["profile", "{SYNC_SCOPE}"]);
    """)
    session_token = account.new_session()
    authorization = fxa.authorize(account, session_token, params)
    account_data = {"uid": account.uid, "email": account.email, "sessionToken": session_token,
                    "verified": True, "services": {"sync": {}}}
    verified = firefox.run(IMPORTS + """
        const [accountData, oauth] = args;
        const helpers = new FxAccountsWebChannelHelpers();
        await helpers.login(accountData);
        await helpers.oauthLogin(oauth);
        const user = await getFxAccountsSingleton().getSignedInUser();
        return Boolean(user && user.verified);
    """, account_data, {"code": authorization["code"], "state": authorization["state"]})
    if not verified:
        raise FirefoxError(f"Firefox is not signed in after oauthLogin\n{firefox.weave_logs()}")


def sync(firefox: Firefox, timeout: float = SYNC_TIMEOUT) -> dict[str, Any]:
    """One whole sync started by us (not one Firefox started by itself,
    which may be running: we wait for it and start ours after it). Returns
    Weave's status after it."""
    return firefox.run(IMPORTS + """
        const [timeoutMs] = args;
        const deadline = Date.now() + timeoutMs;
        let ran = null;
        const observer = (subject, topic, data) => {
            if (topic == "weave:service:sync:start") ran = "started";
            else if (ran == "started") ran = topic.split(":").pop();
        };
        const topics = ["weave:service:sync:start", "weave:service:sync:finish", "weave:service:sync:error"];
        topics.forEach(t => Services.obs.addObserver(observer, t));
        try {
            await Weave.Service.promiseInitialized;
            for (let attempt = 0; ran === null && attempt < 20; attempt++) {
                while (Weave.Service.locked) {
                    if (Date.now() > deadline) throw new Error("a sync Firefox started itself did not end in time");
                    await sleep(100);
                }
                await Weave.Service.sync({why: "user"});
                // Just after a start the account is still being read from the
                // profile ("no_username"): try again. Any other refusal is the answer.
                if (ran === null && !["success.login", "error.login.reason.no_username"].includes(Weave.Status.login)) break;
                if (ran === null) await sleep(250);
            }
        } finally {
            topics.forEach(t => Services.obs.removeObserver(observer, t));
        }
        return {ran, service: Weave.Status.service, sync: Weave.Status.sync, login: Weave.Status.login,
                engines: Object.assign({}, Weave.Status.engines)};
    """, int(timeout * 1000), timeout=timeout + 10)


def sync_ok(firefox: Firefox, attempts: int = 3) -> None:
    """Sync until one whole sync succeeds. More than one attempt only when
    Firefox's own follow-up sync on another profile collided with ours: the
    server then answers 412 to one side, as the protocol wants, and Firefox
    syncs again later. A server that keeps failing fails every attempt."""
    failed = []
    for _ in range(attempts):
        status = sync(firefox)
        if status["ran"] == "finish" and status["service"] == "success.status_ok" and not status["engines"]:
            if failed:
                print(f"sync of {firefox.profile.name} succeeded after {failed}")
            return
        failed.append(status)
    raise FirefoxError(f"{attempts} syncs of {firefox.profile.name} failed: {failed}\n{firefox.weave_logs()}")


def add_bookmarks(firefox: Firefox, folder: str, count: int, url_prefix: str) -> None:
    firefox.run(IMPORTS + """
        const [folder, count, prefix] = args;
        await PlacesUtils.bookmarks.insertTree({guid: PlacesUtils.bookmarks.toolbarGuid, children: [{
            title: folder, type: PlacesUtils.bookmarks.TYPE_FOLDER,
            children: Array.from({length: count}, (_, i) => ({url: `${prefix}${i}`, title: `${folder} ${i}`})),
        }]});
    """, folder, count, url_prefix)


def bookmarks(firefox: Firefox, folder: str) -> dict[str, str]:
    """{url: title} of the bookmarks in the toolbar folder `folder`."""
    return firefox.run(IMPORTS + """
        const [folder] = args;
        const tree = await PlacesUtils.promiseBookmarksTree(PlacesUtils.bookmarks.toolbarGuid);
        const node = (tree.children || []).find(c => c.title == folder);
        return Object.fromEntries((node && node.children || []).map(c => [c.uri, c.title]));
    """, folder)


def edit_bookmark(firefox: Firefox, url: str, title: str | None) -> None:
    """Retitle the bookmark of `url`, or remove it (title None)."""
    firefox.run(IMPORTS + """
        const [url, title] = args;
        const found = [];
        await PlacesUtils.bookmarks.fetch({url}, b => found.push(b));
        if (found.length != 1) throw new Error(`${found.length} bookmarks of ${url}`);
        if (title === null) await PlacesUtils.bookmarks.remove(found[0].guid);
        else await PlacesUtils.bookmarks.update({guid: found[0].guid, title});
    """, url, title)


def add_history(firefox: Firefox, count: int, url_prefix: str) -> None:
    firefox.run(IMPORTS + """
        const [count, prefix] = args;
        const now = Date.now();
        await PlacesUtils.history.insertMany(Array.from({length: count}, (_, i) => ({
            url: `${prefix}${i}`, title: `page ${i}`,
            visits: [{date: new Date(now - i * 60000), transition: PlacesUtils.history.TRANSITIONS.LINK}],
        })));
    """, count, url_prefix)


def history_urls(firefox: Firefox, url_prefix: str) -> int:
    """How many visited pages under `url_prefix` the profile has."""
    return firefox.run(IMPORTS + """
        const [prefix] = args;
        const db = await PlacesUtils.promiseDBConnection();
        const rows = await db.execute(
            `SELECT count(*) AS n FROM moz_places p WHERE p.url BETWEEN :lo AND :hi
             AND EXISTS (SELECT 1 FROM moz_historyvisits v WHERE v.place_id = p.id)`,
            {lo: prefix, hi: prefix + "\\uffff"});
        return rows[0].getResultByName("n");
    """, url_prefix)


def add_logins(firefox: Firefox, logins: dict[str, tuple[str, str]]) -> None:
    """Save {origin: (username, password)} as form logins."""
    firefox.run(IMPORTS + """
        const logins = Object.entries(args[0]).map(([origin, [username, password]]) => {
            const info = Cc["@mozilla.org/login-manager/loginInfo;1"].createInstance(Ci.nsILoginInfo);
            info.init(origin, origin, null, username, password, "", "");
            return info;
        });
        await Services.logins.addLogins(logins);
    """, {origin: list(login) for origin, login in logins.items()})


def logins(firefox: Firefox) -> dict[str, tuple[str, str]]:
    """{origin: (username, password)} of the profile's saved web logins
    (not Firefox's own chrome:// entry holding the account's keys)."""
    return {origin: tuple(login) for origin, login in firefox.run(IMPORTS + """
        return (await Services.logins.getAllLogins()).filter(l => l.origin.startsWith("http"))
            .map(l => [l.origin, [l.username, l.password]]);
    """)}


def remove_login(firefox: Firefox, origin: str) -> None:
    firefox.run(IMPORTS + """
        const [origin] = args;
        const found = (await Services.logins.getAllLogins()).filter(l => l.origin == origin);
        if (found.length != 1) throw new Error(`${found.length} logins of ${origin}`);
        await Services.logins.removeLoginAsync(found[0]);
    """, origin)


def open_tabs(firefox: Firefox, urls: list[str], timeout: float = 30) -> None:
    """Open `urls` as tabs of the browser window and wait until each loaded."""
    firefox.run(IMPORTS + """
        const [urls, timeoutMs] = args;
        const win = Services.wm.getMostRecentWindow("navigator:browser");
        const principal = Services.scriptSecurityManager.getSystemPrincipal();
        const tabs = urls.map(url => win.gBrowser.addTab(url, {triggeringPrincipal: principal}));
        const deadline = Date.now() + timeoutMs;
        while (tabs.some((tab, i) => tab.linkedBrowser.currentURI.spec != urls[i])) {
            if (Date.now() > deadline) throw new Error("tabs did not load: " + tabs.map(t => t.linkedBrowser.currentURI.spec));
            await sleep(100);
        }
    """, urls, int(timeout * 1000), timeout=timeout + 10)


def remote_tabs(firefox: Firefox) -> dict[str, list[str]]:
    """{device name: [tab URLs]} of the other devices, as the Synced Tabs
    menu shows them."""
    return firefox.run(IMPORTS + """
        const { SyncedTabs } = ChromeUtils.importESModule("resource://services-sync/SyncedTabs.sys.mjs");
        const clients = await SyncedTabs.getTabClients();
        return Object.fromEntries(clients.map(c => [c.name, c.tabs.map(t => t.url)]));
    """)


def set_pref(firefox: Firefox, name: str, value: str) -> None:
    firefox.run("Services.prefs.setStringPref(args[0], args[1]);", name, value)


def get_pref(firefox: Firefox, name: str) -> str | None:
    return firefox.run("return Services.prefs.getStringPref(args[0], null);", name)


AUTOFILL = 'const { formAutofillStorage } = ChromeUtils.importESModule("resource://autofill/FormAutofillStorage.sys.mjs");\nawait formAutofillStorage.initialize();\n'


def add_address(firefox: Firefox, address: dict[str, str]) -> None:
    firefox.run(AUTOFILL + "await formAutofillStorage.addresses.add(args[0]);", address)


def addresses(firefox: Firefox) -> list[dict[str, str]]:
    """The profile's saved addresses (name and street only)."""
    return firefox.run(AUTOFILL + """
        return (await formAutofillStorage.addresses.getAll()).map(a => ({name: a.name, "street-address": a["street-address"]}));
    """)


def account_state(firefox: Firefox) -> str:
    """The account state the toolbar shows: signed_in, login_failed, ..."""
    return firefox.run("""
        const { UIState } = ChromeUtils.importESModule("resource://services-sync/UIState.sys.mjs");
        return (await UIState.refresh()).status;
    """)


class Steps:
    """Prints how long each step took (pytest shows it with -rP or on failure)."""

    def __init__(self) -> None:
        self.last = self.first = time.monotonic()

    def __call__(self, name: str) -> None:
        now = time.monotonic()
        print(f"{name}: {now - self.last:.1f}s (total {now - self.first:.1f}s)")
        self.last = now
