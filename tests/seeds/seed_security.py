from sqlalchemy import insert

from app.auth.tokens import generate_token
from app.security.models import ApiToken, OidcProvider


async def seed(session, ids: dict, marker: str) -> None:
    new = generate_token()
    ids["api_token"] = (
        await session.execute(
            insert(ApiToken)
            .values(
                name=f"seed {marker}",
                kind="service",
                lookup=new.lookup,
                token_hash=new.token_hash,
                scopes=["calls:read"],
            )
            .returning(ApiToken.id)
        )
    ).scalar_one()
    ids["oidc_provider"] = (
        await session.execute(
            insert(OidcProvider)
            .values(
                issuer=f"https://idp-{marker.lower()}.example.id",
                client_id=f"client-{marker}",
                client_secret_enc="x",
                label="SSO",
                enabled=False,
            )
            .returning(OidcProvider.id)
        )
    ).scalar_one()
