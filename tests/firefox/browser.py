"""A real Firefox for the tests: headless, its own profile, driven through
Marionette in the chrome context (Firefox's own JavaScript modules).

Written here rather than using marionette-driver's runner (mozrunner): we
need the -remote-allow-system-access flag, a fixed Marionette port in the
profile, our own bounded waits and a hard kill of exactly the process we
started.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

STARTUP_TIMEOUT = 60.0  # Firefox is ready for Marionette in 4-8 s; busy CI machines are slower
SCRIPT_TIMEOUT = 90.0  # default bound of one chrome-context script
QUIT_TIMEOUT = 30.0
SOCKET_TIMEOUT = 300.0  # Marionette's socket: longer than any script's own timeout


def firefox_binary() -> str | None:
    return shutil.which("firefox-esr") or shutil.which("firefox")


def missing() -> str | None:
    """Why the Firefox tests cannot run here, or None."""
    if firefox_binary() is None:
        return "need Firefox (Debian: apt-get install firefox-esr)"
    try:
        import marionette_driver  # noqa: F401
    except ImportError:
        return "need marionette-driver (the project's test extra)"
    return None


def profile_prefs(fxa_url: str, tokenserver_url: str, marionette_port: int) -> dict[str, Any]:
    """user.js of a test profile: accounts and sync pointed at the loopback
    servers; everything that would reach the internet pointed nowhere."""
    return {
        **quiet_prefs(marionette_port),
        "identity.fxaccounts.auth.uri": f"{fxa_url}/v1",
        "identity.fxaccounts.remote.oauth.uri": f"{fxa_url}/v1",
        "identity.fxaccounts.remote.profile.uri": f"{fxa_url}/profile/v1",
        "identity.fxaccounts.remote.root": f"{fxa_url}/",
        "identity.fxaccounts.autoconfig.uri": "",
        "identity.fxaccounts.allowHttp": True,
        "identity.sync.tokenserver.uri": tokenserver_url,
    }


def autoconfig_prefs(accounts_url: str, marionette_port: int) -> dict[str, Any]:
    """user.js of a profile set up as the docs tell a self-hoster: the one
    accounts setting `identity.fxaccounts.autoconfig.uri`; Firefox reads
    every other URL from the server's /.well-known/fxa-client-configuration.
    `allowHttp` only because the test server speaks plain HTTP on loopback."""
    return {
        **quiet_prefs(marionette_port),
        "identity.fxaccounts.autoconfig.uri": accounts_url,
        "identity.fxaccounts.allowHttp": True,
    }


def quiet_prefs(marionette_port: int) -> dict[str, Any]:
    """The prefs of every test profile: Sync's logs kept, everything that
    would reach the internet pointed nowhere."""
    nowhere = "http://127.0.0.1:9/"  # the discard port: refused at once
    return {
        "marionette.port": marionette_port,
        # Keep Sync's own log files, also of successful syncs (shown on failure).
        "services.sync.log.appender.file.logOnSuccess": True,
        "services.sync.log.appender.file.level": "Debug",
        # Addresses sync is off outside some regions; the tests want it.
        "services.sync.engine.addresses.available": True,
        "services.sync.engine.addresses": True,
        # No push service: the tests trigger every sync themselves.
        "dom.push.connection.enabled": False,
        "dom.push.serverURL": nowhere,
        "services.settings.server": nowhere,
        "toolkit.telemetry.server": nowhere,
        "toolkit.telemetry.enabled": False,
        "toolkit.telemetry.unified": False,
        "datareporting.healthreport.uploadEnabled": False,
        "datareporting.policy.dataSubmissionEnabled": False,
        "browser.safebrowsing.malware.enabled": False,
        "browser.safebrowsing.phishing.enabled": False,
        "browser.safebrowsing.downloads.enabled": False,
        "browser.safebrowsing.provider.mozilla.updateURL": nowhere,
        "app.update.disabledForTesting": True,
        "app.update.url": nowhere,
        "extensions.update.enabled": False,
        "extensions.getAddons.cache.enabled": False,
        "extensions.blocklist.enabled": False,
        "network.captive-portal-service.enabled": False,
        "network.connectivity-service.enabled": False,
        "network.proxy.type": 0,
        "browser.shell.checkDefaultBrowser": False,
        "browser.startup.homepage_override.mstone": "ignore",
        "browser.startup.page": 0,
        "browser.newtabpage.enabled": False,
        "browser.newtabpage.activity-stream.feeds.system.topstories": False,
        "browser.newtabpage.activity-stream.feeds.section.topstories": False,
        "browser.topsites.contile.enabled": False,
        "browser.region.network.url": nowhere,
        "geo.provider.network.url": nowhere,
        "browser.search.geoip.url": nowhere,
        "media.gmp-manager.url": nowhere,
        "media.gmp-gmpopenh264.autoupdate": False,
    }


class FirefoxError(AssertionError):
    """A Firefox step failed; the message carries its weave logs."""


class Firefox:
    """One Firefox process on one profile directory. A profile outlives its
    process: stop() and start() again to restart the browser on it."""

    def __init__(self, profile: Path, prefs: dict[str, Any]) -> None:
        self.profile = profile
        self.prefs = prefs
        self.process: subprocess.Popen | None = None
        self.client = None
        self.log_path = profile.parent / f"{profile.name}.stdout.log"

    def start(self) -> None:
        from marionette_driver.marionette import Marionette

        self.profile.mkdir(parents=True, exist_ok=True)
        with open(self.profile / "user.js", "w") as user_js:
            for name, value in self.prefs.items():
                user_js.write(f"user_pref({json.dumps(name)}, {json.dumps(value)});\n")
        env = {**os.environ, "MOZ_HEADLESS": "1", "MOZ_CRASHREPORTER_DISABLE": "1"}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [firefox_binary(), "-headless", "-no-remote", "-marionette",
                 "-remote-allow-system-access", "-profile", str(self.profile)],
                env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() kills all of it
            )
        try:
            self.client = Marionette(host="127.0.0.1", port=self.prefs["marionette.port"],
                                     socket_timeout=SOCKET_TIMEOUT, startup_timeout=int(STARTUP_TIMEOUT))
            self.client.start_session(timeout=STARTUP_TIMEOUT)
            self.client.set_context(self.client.CONTEXT_CHROME)
        except Exception as exc:
            self.stop()
            raise FirefoxError(f"Firefox did not come up for Marionette within {STARTUP_TIMEOUT}s: {exc}\n"
                               f"{self.log_path.read_text(errors='replace')[-4000:]}") from exc

    def stop(self) -> None:
        """Quit as a user would (Firefox writes its profile out), bounded;
        then kill whatever is left of our process group."""
        if self.client is not None:
            try:
                # marionette-driver's quit() wants to own the process; this
                # is its in-app half (Services.startup.quit) alone.
                self.client._request_in_app_shutdown()
                self.client.delete_session(send_request=False)
            except Exception:
                pass  # killed below
            self.client = None
        if self.process is not None:
            try:
                self.process.wait(timeout=QUIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # leftovers (content processes), or a hung quit
            except ProcessLookupError:
                pass
            self.process.wait(timeout=15)
        self.process = None

    def run(self, body: str, *args: Any, timeout: float = SCRIPT_TIMEOUT) -> Any:
        """Run `body` as an async function in the chrome context, with
        `args` as `args`, and return its result. A thrown error becomes a
        FirefoxError with the stack and the weave logs."""
        script = f"""
            const resolve = arguments[arguments.length - 1];
            const args = Array.from(arguments).slice(0, -1);
            (async () => {{ {body} }})().then(
                value => resolve({{value}}),
                error => resolve({{error: String(error) + "\\n" + (error && error.stack || "")}}));
        """
        started = time.monotonic()
        try:
            answer = self.client.execute_async_script(script, script_args=list(args), script_timeout=int(timeout * 1000))
        except Exception as exc:
            raise FirefoxError(f"script failed after {time.monotonic() - started:.1f}s: {exc}\n{self.weave_logs()}") from exc
        if "error" in answer:
            raise FirefoxError(f"script threw: {answer['error']}\n{self.weave_logs()}")
        return answer.get("value")

    def weave_logs(self, limit: int = 20000) -> str:
        """The newest of Sync's own logs in the profile (what went wrong)."""
        # Error logs first: they say what went wrong; then the newest success log.
        logs = sorted((self.profile / "weave" / "logs").glob("*.txt"), key=lambda p: p.stat().st_mtime)
        chosen = [p for p in logs if p.name.startswith("error")][-2:] + [p for p in logs if p.name.startswith("success")][-1:]
        text = "".join(f"--- {p.name}\n{p.read_text(errors='replace')[-limit // 3:]}" for p in chosen)
        return f"weave logs of {self.profile.name}:\n{text}" if text else f"no weave logs in {self.profile}"
