"""Flask extensions, created here and bound in the app factory."""

from flask import session
from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from dibao import ratelimits  # noqa: F401 - registers the dibao+db:// storage of shared limits


class StaffLoginManager(LoginManager):
    """Session protection only where a staff member is signed in.

    Flask-Login's "strong" check also fires for anonymous visitors whose session holds just a CSRF token,
    and then clears a remember cookie on every public response; residents have nothing to protect there.
    """

    def _session_protection_failed(self) -> bool:
        if "_user_id" not in session:
            return False
        return super()._session_protection_failed()


csrf = CSRFProtect()
login_manager = StaffLoginManager()
babel = Babel()


def _client() -> str:
    """Limits count per client: an IPv4 address, or an IPv6 address's /64 (dibao.web.client_network)."""
    from dibao.web import client_address

    return client_address()


limiter = Limiter(key_func=_client, default_limits=[])
