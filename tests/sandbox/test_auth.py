"""The sandbox's authentication and access-mode endpoints (sandbox/auth.py), in process.

Each test gets its own sandbox directory (a small hand-made directory and patient list, the
test CA) and a FastAPI TestClient; the app's clock is a FakeClock so that nonces, CIBA
requests and access episodes can be made to expire. Card keys are software RSA keys here;
the SoftHSM2 cards are exercised by tests/integration.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import importlib.util
import json
import sqlite3
import time
import types
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter
from httpx import Response

from sandbox import pki
from sandbox.app import create_app
from sandbox.auth import CIBA_GRANT_TYPE
from sandbox.config import Settings
from sandbox.deps import hash_token
from sandbox.personas import BY_ID, Persona
from sandbox.store import DB_NAME, Store

with warnings.catch_warnings():
    # Starlette >= 1.x prefers the httpx2 package for its TestClient and warns (an error under
    # our filterwarnings) when it falls back to httpx, which is what this project installs.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration

INS_SYSTEM = "urn:oid:1.2.250.1.213.1.4.10"
FORM = {"content-type": "application/x-www-form-urlencoded"}

# Personas with a card; "physio" has a valid certificate but is left out of the directory.
CARD_PERSONAS = ("gp", "emergency", "regulator", "nurse", "secretary", "hospital_doctor", "physio")
DIRECTORY_PERSONAS = ("gp", "emergency", "regulator", "nurse", "secretary", "hospital_doctor")
JUSTIFICATION = "Patient inconscient à l'accueil des urgences, antécédents inconnus."
BDG = {"reason_code": "URGENCE_VITALE", "justification": JUSTIFICATION}


def nir(body13: str) -> str:
    return f"{body13}{97 - int(body13) % 97:02d}"


TREATED = nir("1850575123456")  # médecin traitant: gp
STRANGER = nir("2720369012345")  # nobody authorised
OPPOSED_BDG = nir("1640113055012")
OPPOSED_C15 = nir("2910644109087")
BLOCKS_REGULATOR = nir("1780933063021")
NOT_IN_DMP = nir("1990175111222")


class FakeClock:
    """Epoch seconds that only move when told to."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Card:
    persona: Persona
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def der_b64(self) -> str:
        return base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()

    def sign_b64(self, data: str, algorithm: str = "RS256") -> str:
        return base64.b64encode(pki.sign_with_key(self.key, data.encode(), algorithm)).decode()


@dataclass(frozen=True)
class Material:
    """The test CA (in ``directory/pki``) and one card per persona, made once per module."""

    directory: Path
    ca: pki.TestCA
    cards: dict[str, Card] = field(default_factory=dict)


@dataclass
class Env:
    client: TestClient
    clock: FakeClock
    settings: Settings
    store: Store
    material: Material

    def card(self, persona_id: str) -> Card:
        return self.material.cards[persona_id]

    def nonce(self) -> str:
        answer = self.client.post("/auth/challenge")
        assert answer.status_code == 200, answer.text
        nonce: str = answer.json()["nonce"]
        return nonce

    def card_body(self, card: Card, algorithm: str = "RS256", /, **override: Any) -> dict[str, Any]:
        nonce = override.pop("nonce", None) or self.nonce()
        body = {
            "certificate": card.der_b64,
            "nonce": nonce,
            "signature": card.sign_b64(nonce, algorithm),
            "algorithm": algorithm,
        }
        body.update(override)
        return body

    def login(self, persona_id: str) -> str:
        answer = self.client.post("/auth/card", json=self.card_body(self.card(persona_id)))
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def access(self, token: str, ins: str, mode: str = "normal", **fields: Any) -> Response:
        body = {"patient": f"{INS_SYSTEM}|{ins}", "mode": mode, **fields}
        answer: Response = self.client.post("/auth/access", json=body, headers=bearer(token))
        return answer

    def patient_token(self, persona_id: str, ins: str, mode: str = "normal", **fields: Any) -> str:
        answer = self.access(self.login(persona_id), ins, mode, **fields)
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def audit(self, **where: str) -> list[sqlite3.Row]:
        sql = "SELECT * FROM audit_events"
        if where:
            sql += " WHERE " + " AND ".join(f"{k} = ?" for k in where)
        return self.store.query(sql + " ORDER BY seq", tuple(where.values()))

    def notifications(self, ins: str) -> list[sqlite3.Row]:
        return self.store.query(
            "SELECT * FROM notifications WHERE patient_ins = ? ORDER BY seq", (ins,)
        )

    def ciba(self, login_hint: str, binding_message: str = "A1B2") -> Response:
        answer: Response = self.client.post(
            "/auth/ciba",
            content=f"login_hint={login_hint}&binding_message={binding_message}&scope=openid",
            headers=FORM,
        )
        return answer

    def poll(self, auth_req_id: str, grant_type: str = CIBA_GRANT_TYPE) -> Response:
        answer: Response = self.client.post(
            "/auth/token",
            content=f"grant_type={grant_type}&auth_req_id={auth_req_id}",
            headers=FORM,
        )
        return answer

    def ecps_login(self, persona_id: str = "gp") -> dict[str, Any]:
        """An e-CPS login approved on the phone: the token answer."""
        req_id = self.ciba(BY_ID[persona_id].id_nat).json()["auth_req_id"]
        assert self.client.post(f"/sandbox/ecps/{req_id}/approve").status_code == 200
        answer = self.poll(req_id)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def refresh(self, refresh_token: str) -> Response:
        answer: Response = self.client.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        )
        return answer

    def whoami(self, token: str) -> Response:
        answer: Response = self.client.get("/auth/whoami", headers=bearer(token))
        return answer


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def reason_of(answer: Response) -> str:
    """The machine reason code of an OperationOutcome answer."""
    body = answer.json()
    assert body["resourceType"] == "OperationOutcome", body
    code: str = body["issue"][0]["details"]["coding"][0]["code"]
    return code


def diagnostics_of(answer: Response) -> str:
    text: str = answer.json()["issue"][0]["diagnostics"]
    return text


def new_card(ca: pki.TestCA, persona: Persona, **issue: Any) -> Card:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Card(persona, key, pki.issue_card_certificate(ca, key.public_key(), persona, **issue))


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> Material:
    directory = tmp_path_factory.mktemp("pki")
    ca = pki.create_ca(directory)
    return Material(directory, ca, {p: new_card(ca, BY_ID[p]) for p in CARD_PERSONAS})


def seed(store: Store) -> None:
    personas = [BY_ID[p] for p in DIRECTORY_PERSONAS]
    with store.transaction() as conn:
        for structure in {p.structure for p in personas}:
            conn.execute(
                "INSERT INTO structures(id, name, kind) VALUES (?,?,?)",
                (structure.id, structure.name, structure.kind),
            )
        for p in personas:
            conn.execute(
                "INSERT INTO professionals(id_nat, family_name, given_name, profession,"
                " profession_label, specialty, role, structure_id, card_kind)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    p.id_nat,
                    p.family_name,
                    p.given_name,
                    p.profession,
                    p.profession_label,
                    p.specialty,
                    p.role,
                    p.structure.id,
                    p.card_kind,
                ),
            )
        patients = [
            (TREATED, "DURAND", "Paul", BY_ID["gp"].id_nat, 0, 0),
            (STRANGER, "BERNARD", "Marie", None, 0, 0),
            (OPPOSED_BDG, "THOMAS", "Louis", None, 1, 0),
            (OPPOSED_C15, "ROBERT", "Léa", None, 0, 1),
            (BLOCKS_REGULATOR, "RICHARD", "Hugo", None, 0, 0),
        ]
        for ins, family, given, mt, opp_bdg, opp_c15 in patients:
            conn.execute(
                "INSERT INTO patients(ins, ins_system, family_name, given_names, birth_date,"
                " gender, medecin_traitant, opposed_bris_de_glace, opposed_centre_15)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (ins, INS_SYSTEM, family, given, "1985-05-01", "male", mt, opp_bdg, opp_c15),
            )
        conn.execute(
            "INSERT INTO blocks(patient_ins, id_nat) VALUES (?, ?)",
            (BLOCKS_REGULATOR, BY_ID["regulator"].id_nat),
        )


def make_env(
    tmp_path: Path, material: Material, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> Iterator[Env]:
    if importlib.util.find_spec("sandbox.api") is None:  # the FHIR router is written elsewhere
        stub = types.ModuleType("sandbox.api")
        stub.router = APIRouter()  # type: ignore[attr-defined]
        monkeypatch.setitem(__import__("sys").modules, "sandbox.api", stub)
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.pem").write_bytes((material.directory / "pki" / "ca.pem").read_bytes())
    seeding = Store.create(tmp_path / DB_NAME)
    seed(seeding)
    seeding.close()
    clock = FakeClock()
    app = create_app(tmp_path, settings, clock=clock)
    with TestClient(app) as client:
        yield Env(client, clock, settings, app.state.store, material)


@pytest.fixture
def env(tmp_path: Path, material: Material, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    yield from make_env(tmp_path, material, monkeypatch, Settings())


# -- card login ---------------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["RS256", "PS256"])
def test_card_login_with_rs256_and_ps256(env: Env, algorithm: str) -> None:
    card = env.card("gp")
    body = env.card_body(card, algorithm)
    answer = env.client.post("/auth/card", json=body)
    assert answer.status_code == 200, answer.text
    token = answer.json()
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == env.settings.professional_token_ttl_s
    assert set(token) == {"access_token", "token_type", "expires_in"}
    assert answer.headers["cache-control"] == "no-store"

    me = env.client.get("/auth/whoami", headers=bearer(token["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json() == {
        "id_nat": "899700000011",
        "name": "Claire MARTIN",
        "family_name": "MARTIN",
        "given_name": "Claire",
        "profession": "10",
        "profession_label": "Médecin",
        "specialty": "SM54",
        "structure": {"id": "3997000012301", "name": "Cabinet médical du Parc"},
        "role": "ps",
        "card_kind": "CPS",
        "token_kind": "professional",
        "patient": None,
        "mode": None,
        "episode_id": None,
        "expires_at": dt.datetime.fromtimestamp(
            int(env.clock.now) + env.settings.professional_token_ttl_s, dt.UTC
        ).isoformat(timespec="seconds"),
    }
    [event] = env.audit(subtype_code="login")
    assert (event["outcome"], event["type_code"], event["agent_id_nat"]) == (
        "0",
        "110114",
        "899700000011",
    )
    assert algorithm in event["description"]
    assert body["certificate"][:40] not in event["description"]
    assert body["signature"][:40] not in event["description"]


def test_cpe_card_login_of_the_secretary(env: Env) -> None:
    me = env.client.get("/auth/whoami", headers=bearer(env.login("secretary"))).json()
    assert (me["id_nat"], me["role"], me["card_kind"], me["profession"]) == (
        "1997000456/SEC0042",
        "secretary",
        "CPE",
        "SECRETARIAT_MEDICAL",
    )


def test_a_nonce_is_single_use(env: Env) -> None:
    card = env.card("gp")
    body = env.card_body(card)
    assert env.client.post("/auth/card", json=body).status_code == 200
    again = env.client.post("/auth/card", json=body)
    assert again.status_code == 401
    assert reason_of(again) == "nonce_reused"


def test_a_nonce_is_burnt_even_when_the_login_fails(env: Env) -> None:
    card = env.card("gp")
    nonce = env.nonce()
    wrong = env.client.post(
        "/auth/card", json=env.card_body(card, nonce=nonce, signature=card.sign_b64("other"))
    )
    assert wrong.status_code == 401
    assert reason_of(wrong) == "bad_signature"
    retry = env.client.post("/auth/card", json=env.card_body(card, nonce=nonce))
    assert retry.status_code == 401
    assert reason_of(retry) == "nonce_reused"


def test_an_expired_nonce_is_refused(env: Env) -> None:
    card = env.card("gp")
    nonce = env.nonce()
    env.clock.advance(env.settings.challenge_ttl_s + 1)
    answer = env.client.post("/auth/card", json=env.card_body(card, nonce=nonce))
    assert answer.status_code == 401
    assert reason_of(answer) == "nonce_expired"


def test_an_unknown_nonce_is_refused(env: Env) -> None:
    answer = env.client.post("/auth/card", json=env.card_body(env.card("gp"), nonce="made-up"))
    assert answer.status_code == 401
    assert reason_of(answer) == "unknown_nonce"


@pytest.mark.parametrize("algorithm", ["RS256", "PS256"])
def test_a_signature_over_another_nonce_is_refused(env: Env, algorithm: str) -> None:
    card = env.card("gp")
    other = env.nonce()
    body = env.card_body(card, algorithm, signature=card.sign_b64(other, algorithm))
    answer = env.client.post("/auth/card", json=body)
    assert answer.status_code == 401
    assert reason_of(answer) == "bad_signature"
    [event] = env.audit(subtype_code="login")
    assert event["outcome"] == "4"
    assert "bad_signature" in event["description"]
    assert body["signature"][:40] not in event["description"]


def test_a_signature_by_another_key_is_refused(env: Env) -> None:
    """The gp's certificate with the nurse's signature: the key does not match."""
    gp, nurse = env.card("gp"), env.card("nurse")
    nonce = env.nonce()
    body = env.card_body(gp, nonce=nonce, signature=nurse.sign_b64(nonce))
    answer = env.client.post("/auth/card", json=body)
    assert answer.status_code == 401
    assert reason_of(answer) == "bad_signature"


def test_a_certificate_from_another_ca_is_refused(env: Env, tmp_path: Path) -> None:
    """Another CA with the very same name: only the CA signature tells them apart."""
    rogue = pki.create_ca(tmp_path / "rogue")
    card = new_card(rogue, BY_ID["gp"])
    answer = env.client.post("/auth/card", json=env.card_body(card))
    assert answer.status_code == 401
    assert reason_of(answer) == "untrusted_certificate"
    assert "autorité de test" in diagnostics_of(answer)


def test_an_expired_certificate_is_refused(env: Env) -> None:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    card = new_card(env.material.ca, BY_ID["gp"], not_before=start, validity=dt.timedelta(days=365))
    answer = env.client.post("/auth/card", json=env.card_body(card))
    assert answer.status_code == 401
    assert reason_of(answer) == "expired_certificate"
    assert "expiré" in diagnostics_of(answer)


def test_a_certificate_expires_with_the_sandbox_clock(env: Env) -> None:
    card = new_card(env.material.ca, BY_ID["gp"], validity=dt.timedelta(days=1))
    env.clock.advance(2 * 86400)
    answer = env.client.post("/auth/card", json=env.card_body(card))
    assert answer.status_code == 401
    assert reason_of(answer) == "expired_certificate"


def test_an_idnat_unknown_to_the_directory_is_refused(env: Env) -> None:
    answer = env.client.post("/auth/card", json=env.card_body(env.card("physio")))
    assert answer.status_code == 401
    assert reason_of(answer) == "unknown_professional"
    [event] = env.audit(subtype_code="login")
    assert event["outcome"] == "4"
    assert BY_ID["physio"].id_nat in event["description"]


def test_a_certificate_whose_names_differ_from_the_directory_is_refused(env: Env) -> None:
    impostor = dataclasses.replace(BY_ID["gp"], family_name="DUPONT", profession_label="Infirmier")
    answer = env.client.post("/auth/card", json=env.card_body(new_card(env.material.ca, impostor)))
    assert answer.status_code == 401
    assert reason_of(answer) == "identity_mismatch"
    assert "nom" in diagnostics_of(answer)
    assert "profession" in diagnostics_of(answer)


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"certificate": "not base64 !"}, "malformed_base64"),
        ({"certificate": base64.b64encode(b"\x30\x03junk").decode()}, "malformed_certificate"),
        ({"signature": "%%%"}, "malformed_base64"),
        ({"algorithm": "ES256"}, "unsupported_algorithm"),
        ({"certificate": None}, "missing_field"),
        ({"signature": 12}, "invalid_field"),
    ],
)
def test_malformed_card_logins_are_400(env: Env, override: dict[str, Any], reason: str) -> None:
    answer = env.client.post("/auth/card", json=env.card_body(env.card("gp"), **override))
    assert answer.status_code == 400
    assert reason_of(answer) == reason


def test_card_login_body_must_be_a_json_object(env: Env) -> None:
    bad_json = env.client.post(
        "/auth/card", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert (bad_json.status_code, reason_of(bad_json)) == (400, "malformed_json")
    wrong_type = env.client.post("/auth/card", content=b"x=1", headers=FORM)
    assert wrong_type.status_code == 415
    a_list = env.client.post("/auth/card", json=[1, 2])
    assert (a_list.status_code, reason_of(a_list)) == (400, "not_object")
    no_nonce = env.client.post("/auth/card", json={})
    assert (no_nonce.status_code, reason_of(no_nonce)) == (400, "missing_field")


def test_forged_absent_and_expired_professional_tokens_get_401(env: Env) -> None:
    forged = env.client.get("/auth/whoami", headers=bearer("forged-token-value"))
    assert (forged.status_code, reason_of(forged)) == (401, "invalid_token")
    absent = env.client.get("/auth/whoami")
    assert absent.status_code == 401
    token = env.login("gp")
    env.clock.advance(env.settings.professional_token_ttl_s + 1)
    expired = env.client.get("/auth/whoami", headers=bearer(token))
    assert (expired.status_code, reason_of(expired)) == (401, "expired_token")


# -- e-CPS (CIBA) ---------------------------------------------------------------------------
def test_ciba_pending_slow_down_approve_token_once(env: Env) -> None:
    gp = BY_ID["gp"].id_nat
    start = env.ciba(gp, "Code 4F2K")
    assert start.status_code == 200, start.text
    request = start.json()
    assert set(request) == {"auth_req_id", "expires_in", "interval"}
    assert (request["expires_in"], request["interval"]) == (
        env.settings.ciba_expires_s,
        env.settings.ciba_interval_s,
    )
    req_id = request["auth_req_id"]

    pending = env.client.get("/sandbox/ecps/pending", params={"login_hint": gp}).json()
    assert [(p["auth_req_id"], p["binding_message"]) for p in pending["pending"]] == [
        (req_id, "Code 4F2K")
    ]
    assert env.client.get(
        "/sandbox/ecps/pending", params={"login_hint": BY_ID["nurse"].id_nat}
    ).json() == {"pending": []}

    first = env.poll(req_id)
    assert (first.status_code, first.json()["error"]) == (400, "authorization_pending")
    too_fast = env.poll(req_id)
    assert (too_fast.status_code, too_fast.json()["error"]) == (400, "slow_down")
    env.clock.advance(request["interval"])
    assert env.poll(req_id).json()["error"] == "authorization_pending"

    approved = env.client.post(f"/sandbox/ecps/{req_id}/approve")
    assert approved.status_code == 200, approved.text
    assert env.client.post(f"/sandbox/ecps/{req_id}/approve").status_code == 409
    assert env.client.get("/sandbox/ecps/pending").json() == {"pending": []}

    env.clock.advance(request["interval"])
    granted = env.poll(req_id)
    assert granted.status_code == 200, granted.text
    body = granted.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == env.settings.professional_token_ttl_s
    me = env.client.get("/auth/whoami", headers=bearer(body["access_token"])).json()
    assert (me["id_nat"], me["token_kind"]) == (gp, "professional")

    env.clock.advance(request["interval"])
    again = env.poll(req_id)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    [event] = env.audit(subtype_code="login")
    assert (event["outcome"], event["agent_id_nat"]) == ("0", gp)
    assert "e-CPS" in event["description"]


def test_ciba_denied_on_the_phone(env: Env) -> None:
    req_id = env.ciba(BY_ID["nurse"].id_nat).json()["auth_req_id"]
    assert env.client.post(f"/sandbox/ecps/{req_id}/deny").status_code == 200
    denied = env.poll(req_id)
    assert (denied.status_code, denied.json()["error"]) == (400, "access_denied")
    assert env.client.post(f"/sandbox/ecps/{req_id}/approve").status_code == 409
    [event] = env.audit(subtype_code="login")
    assert (event["outcome"], event["agent_id_nat"]) == ("4", BY_ID["nurse"].id_nat)


def test_ciba_request_expires(env: Env) -> None:
    req_id = env.ciba(BY_ID["gp"].id_nat).json()["auth_req_id"]
    env.clock.advance(env.settings.ciba_expires_s + 1)
    expired = env.poll(req_id)
    assert (expired.status_code, expired.json()["error"]) == (400, "expired_token")
    late = env.client.post(f"/sandbox/ecps/{req_id}/approve")
    assert (late.status_code, reason_of(late)) == (409, "not_pending")
    assert env.poll(req_id).json()["error"] == "expired_token"
    assert [e["outcome"] for e in env.audit(subtype_code="login")] == ["4"]


def test_ciba_approved_but_collected_too_late_expires(env: Env) -> None:
    req_id = env.ciba(BY_ID["gp"].id_nat).json()["auth_req_id"]
    assert env.client.post(f"/sandbox/ecps/{req_id}/approve").status_code == 200
    env.clock.advance(env.settings.ciba_expires_s)
    assert env.poll(req_id).json()["error"] == "expired_token"


def test_ciba_bad_requests(env: Env) -> None:
    unknown = env.ciba("899799999999")
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "unknown_user_id"
    assert unknown.json()["error_description"]
    no_binding = env.client.post(
        "/auth/ciba", content=f"login_hint={BY_ID['gp'].id_nat}", headers=FORM
    )
    assert (no_binding.status_code, no_binding.json()["error"]) == (400, "invalid_request")
    as_json = env.client.post(
        "/auth/ciba", json={"login_hint": BY_ID["gp"].id_nat, "binding_message": "x"}
    )
    assert as_json.json()["error"] == "invalid_request"
    too_long = env.ciba(BY_ID["gp"].id_nat, "x" * 200)
    assert too_long.json()["error"] == "invalid_binding_message"
    assert env.poll("no-such-request").json()["error"] == "invalid_grant"
    req_id = env.ciba(BY_ID["gp"].id_nat).json()["auth_req_id"]
    wrong_grant = env.poll(req_id, grant_type="password")
    assert (wrong_grant.status_code, wrong_grant.json()["error"]) == (
        400,
        "unsupported_grant_type",
    )
    missing_id = env.client.post(
        "/auth/token", content=f"grant_type={CIBA_GRANT_TYPE}", headers=FORM
    )
    assert missing_id.json()["error"] == "invalid_request"
    unknown_phone = env.client.post("/sandbox/ecps/no-such-request/approve")
    assert (unknown_phone.status_code, reason_of(unknown_phone)) == (404, "unknown_auth_req_id")
    [event] = env.audit(subtype_code="login", outcome="4")
    assert "899799999999" in event["description"]


# -- e-CPS refresh -----------------------------------------------------------------------------
def test_ecps_refresh_gives_a_new_token_and_rotates_the_refresh_token(env: Env) -> None:
    gp = BY_ID["gp"].id_nat
    login = env.ecps_login()
    env.clock.advance(3600)
    answer = env.refresh(login["refresh_token"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert (body["token_type"], body["expires_in"]) == (
        "Bearer",
        env.settings.professional_token_ttl_s,
    )
    assert body["access_token"] != login["access_token"]
    assert body["refresh_token"] not in (login["refresh_token"], login["access_token"])
    me = env.whoami(body["access_token"])
    assert me.status_code == 200, me.text
    assert (me.json()["id_nat"], me.json()["token_kind"]) == (gp, "professional")
    assert me.json()["expires_at"] == dt.datetime.fromtimestamp(
        int(env.clock.now) + env.settings.professional_token_ttl_s, dt.UTC
    ).isoformat(timespec="seconds")
    assert env.whoami(login["access_token"]).status_code == 200  # lives on until its end

    # Rotation: the next refresh takes the new refresh token, the old one is used up.
    again = env.refresh(body["refresh_token"])
    assert again.status_code == 200, again.text
    # Stored hashed, like the access tokens.
    rows = env.store.query("SELECT token_hash, used FROM refresh_tokens ORDER BY created, rowid")
    hashes = {r["token_hash"] for r in rows}
    assert hash_token(login["refresh_token"]) in hashes
    assert login["refresh_token"] not in hashes and body["refresh_token"] not in hashes
    assert [r["used"] is not None for r in rows] == [True, True, False]
    events = env.audit(subtype_code="refresh")
    assert [(e["outcome"], e["type_code"], e["agent_id_nat"]) for e in events] == [
        ("0", "110114", gp)
    ] * 2
    for event in events:
        for secret in (login["refresh_token"], body["refresh_token"], body["access_token"]):
            assert secret not in (event["description"] or "")


def test_replaying_a_used_refresh_token_revokes_the_whole_family(env: Env) -> None:
    login = env.ecps_login()
    other = env.ecps_login()  # another session of the same professional
    first = env.refresh(login["refresh_token"]).json()
    replay = env.refresh(login["refresh_token"])
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert "téléphone" in replay.json()["error_description"]
    # The family is revoked: its latest refresh token and the access tokens it gave.
    latest = env.refresh(first["refresh_token"])
    assert (latest.status_code, latest.json()["error"]) == (400, "invalid_grant")
    for token in (login["access_token"], first["access_token"]):
        revoked = env.whoami(token)
        assert (revoked.status_code, reason_of(revoked)) == (401, "revoked_token")
    # The other session is untouched.
    assert env.whoami(other["access_token"]).status_code == 200
    assert env.refresh(other["refresh_token"]).status_code == 200
    outcomes = [e["outcome"] for e in env.audit(subtype_code="refresh")]
    assert outcomes == ["0", "8", "4", "0"]


def test_an_expired_unknown_or_missing_refresh_token_is_refused(env: Env) -> None:
    login = env.ecps_login()
    env.clock.advance(env.settings.refresh_token_ttl_s)
    expired = env.refresh(login["refresh_token"])
    assert (expired.status_code, expired.json()["error"]) == (400, "invalid_grant")
    assert "expiré" in expired.json()["error_description"]
    unknown = env.refresh("no-such-refresh-token")
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_grant")
    missing = env.client.post("/auth/token", data={"grant_type": "refresh_token"})
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    as_json = env.client.post(
        "/auth/token",
        json={"grant_type": "refresh_token", "refresh_token": login["refresh_token"]},
    )
    assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_request")
    assert [(e["outcome"], e["agent_id_nat"]) for e in env.audit(subtype_code="refresh")] == [
        ("4", BY_ID["gp"].id_nat),
        ("4", None),
    ]


def test_no_token_of_an_ecps_login_outlives_the_session_cap(
    tmp_path: Path, material: Material, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(
        professional_token_ttl_s=600, refresh_token_ttl_s=900, ecps_session_max_s=1000
    )
    for env in make_env(tmp_path, material, monkeypatch, settings):
        login = env.ecps_login()
        assert login["expires_in"] == 600
        env.clock.advance(550)
        capped = env.refresh(login["refresh_token"])
        assert capped.status_code == 200, capped.text
        assert capped.json()["expires_in"] == 450  # the access token ends with the session
        env.clock.advance(449)
        assert env.whoami(capped.json()["access_token"]).status_code == 200
        env.clock.advance(1)
        assert env.whoami(capped.json()["access_token"]).status_code == 401
        refused = env.refresh(capped.json()["refresh_token"])
        assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
        assert "durée maximale" in refused.json()["error_description"]


def test_a_card_login_gets_no_refresh_token(env: Env) -> None:
    answer = env.client.post("/auth/card", json=env.card_body(env.card("gp")))
    assert answer.status_code == 200, answer.text
    assert "refresh_token" not in answer.json()
    assert env.store.query("SELECT * FROM refresh_tokens") == []
    # Its access token is no refresh token either.
    refused = env.refresh(answer.json()["access_token"])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")


# -- access modes ---------------------------------------------------------------------------------
def test_care_team_opens_in_normal_mode_without_consent(env: Env) -> None:
    answer = env.access(env.login("gp"), TREATED)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "mode",
        "episode_id",
        "ends_at",
        "patient",
    }
    assert (body["mode"], body["token_type"], body["patient"]) == (
        "normal",
        "Bearer",
        f"{INS_SYSTEM}|{TREATED}",
    )
    assert body["expires_in"] == env.settings.patient_token_ttl_s
    ends = dt.datetime.fromisoformat(body["ends_at"]).timestamp()
    assert abs(ends - (env.clock.now + env.settings.patient_token_ttl_s)) < 1
    me = env.client.get("/auth/whoami", headers=bearer(body["access_token"])).json()
    assert (me["token_kind"], me["mode"], me["patient"], me["episode_id"]) == (
        "patient",
        "normal",
        f"{INS_SYSTEM}|{TREATED}",
        body["episode_id"],
    )
    assert env.store.query("SELECT * FROM authorisations") == []
    [event] = env.audit(subtype_code="access")
    assert (event["type_code"], event["purpose_of_use"], event["outcome"]) == (
        "rest",
        "normal",
        "0",
    )
    assert (event["patient_ins"], event["agent_id_nat"]) == (TREATED, BY_ID["gp"].id_nat)
    assert json.loads(event["entity_ids"]) == [body["episode_id"]]


def test_outside_the_care_team_without_consent_is_403(env: Env) -> None:
    answer = env.access(env.login("nurse"), STRANGER)
    assert answer.status_code == 403
    assert reason_of(answer) == "no_consent"
    assert "consentement" in diagnostics_of(answer)
    [event] = env.audit(subtype_code="access")
    assert (event["outcome"], event["purpose_of_use"], event["patient_ins"]) == (
        "4",
        "normal",
        STRANGER,
    )
    assert "normal" in event["description"]
    assert "no_consent" in event["description"]
    assert env.store.query("SELECT * FROM access_episodes") == []


def test_consent_is_recorded_and_then_suffices(env: Env) -> None:
    token = env.login("nurse")
    answer = env.access(token, STRANGER, consent={"method": "oral"})
    assert answer.status_code == 200, answer.text
    [row] = env.store.query("SELECT * FROM authorisations")
    assert (row["patient_ins"], row["id_nat"], row["kind"], row["method"]) == (
        STRANGER,
        BY_ID["nurse"].id_nat,
        "care_team",
        "oral",
    )
    assert row["created_at"]
    assert env.access(token, STRANGER).status_code == 200


def test_an_unknown_consent_method_is_403(env: Env) -> None:
    answer = env.access(env.login("nurse"), STRANGER, consent={"method": "telepathie"})
    assert (answer.status_code, reason_of(answer)) == (403, "unknown_consent_method")


def test_the_secretary_never_opens_a_record(env: Env) -> None:
    token = env.login("secretary")
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("normal", {"consent": {"method": "ecrit"}}),
        ("bris_de_glace", {"reason_code": "URGENCE_VITALE", "justification": JUSTIFICATION}),
    ]
    for mode, fields in attempts:
        answer = env.access(token, TREATED, mode, **fields)
        assert (answer.status_code, reason_of(answer)) == (403, "secretary_no_read")


@pytest.mark.parametrize(
    ("mode", "fields"),
    [
        ("normal", {"consent": {"method": "oral"}}),
        ("bris_de_glace", {"reason_code": "URGENCE_VITALE", "justification": JUSTIFICATION}),
        ("centre_15", {}),
    ],
)
def test_a_blocked_professional_is_refused_in_every_mode(
    env: Env, mode: str, fields: dict[str, Any]
) -> None:
    answer = env.access(env.login("regulator"), BLOCKS_REGULATOR, mode, **fields)
    assert (answer.status_code, reason_of(answer)) == (403, "blocked")
    [event] = env.audit(outcome="4", patient_ins=BLOCKS_REGULATOR)
    assert event["purpose_of_use"] == mode
    assert "blocked" in event["description"]


@pytest.mark.parametrize(
    ("ins", "fields", "reason"),
    [
        (STRANGER, {"reason_code": "URGENCE_VITALE"}, "no_justification"),
        (STRANGER, {**BDG, "justification": " court "}, "no_justification"),
        (STRANGER, {"justification": JUSTIFICATION}, "no_reason"),
        (STRANGER, {**BDG, "reason_code": "PARCE_QUE"}, "no_reason"),
        (OPPOSED_BDG, BDG, "opposed_bris_de_glace"),
    ],
)
def test_bris_de_glace_refusals(env: Env, ins: str, fields: dict[str, Any], reason: str) -> None:
    answer = env.access(env.login("emergency"), ins, "bris_de_glace", **fields)
    assert (answer.status_code, reason_of(answer)) == (403, reason)
    [event] = env.audit(outcome="4")
    assert (event["type_code"], event["subtype_code"], event["purpose_of_use"]) == (
        "110113",
        "emergency-override-started",
        "bris_de_glace",
    )
    assert reason in event["description"]
    assert env.notifications(ins) == []


def test_bris_de_glace_is_granted_traced_and_notified(env: Env) -> None:
    answer = env.access(
        env.login("emergency"),
        STRANGER,
        "bris_de_glace",
        reason_code="PATIENT_INCONSCIENT",
        justification=JUSTIFICATION,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["mode"] == "bris_de_glace"
    assert body["expires_in"] == min(
        env.settings.patient_token_ttl_s, env.settings.bris_de_glace_minutes * 60
    )
    [event] = env.audit(type_code="110113")
    assert (event["subtype_code"], event["purpose_of_use"], event["outcome"]) == (
        "emergency-override-started",
        "bris_de_glace",
        "0",
    )
    assert "PATIENT_INCONSCIENT" in event["description"]
    assert JUSTIFICATION in event["description"]
    [episode] = env.store.query("SELECT * FROM access_episodes")
    assert (episode["mode"], episode["reason_code"], episode["justification"]) == (
        "bris_de_glace",
        "PATIENT_INCONSCIENT",
        JUSTIFICATION,
    )
    kinds = [n["kind"] for n in env.notifications(STRANGER)]
    assert kinds == ["first_access", "bris_de_glace"]
    bdg = env.notifications(STRANGER)[1]
    assert "Karim BENALI" in bdg["message"]
    assert "bris de glace" in bdg["message"]
    assert "Patient inconscient ou confus" in bdg["message"]
    assert bdg["professional_name"] == "Karim BENALI"


def test_centre_15_is_for_regulators_only(env: Env) -> None:
    refused = env.access(env.login("emergency"), STRANGER, "centre_15")
    assert (refused.status_code, reason_of(refused)) == (403, "not_regulator")
    token = env.login("regulator")
    opposed = env.access(token, OPPOSED_C15, "centre_15")
    assert (opposed.status_code, reason_of(opposed)) == (403, "opposed_centre_15")
    granted = env.access(token, STRANGER, "centre_15")
    assert granted.status_code == 200, granted.text
    assert granted.json()["mode"] == "centre_15"
    [event] = env.audit(outcome="0", subtype_code="access")
    assert (event["purpose_of_use"], event["agent_id_nat"]) == (
        "centre_15",
        BY_ID["regulator"].id_nat,
    )
    assert [n["kind"] for n in env.notifications(STRANGER)] == ["first_access", "centre_15"]
    assert env.notifications(OPPOSED_C15) == []


def test_a_bris_de_glace_token_expires_with_its_time_box(
    tmp_path: Path, material: Material, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(patient_token_ttl_s=4 * 3600, bris_de_glace_minutes=30)
    for env in make_env(tmp_path, material, monkeypatch, settings):
        answer = env.access(
            env.login("emergency"),
            STRANGER,
            "bris_de_glace",
            reason_code="URGENCE_VITALE",
            justification=JUSTIFICATION,
        )
        assert answer.json()["expires_in"] == 30 * 60
        token = answer.json()["access_token"]
        normal = env.access(env.login("gp"), TREATED)
        assert normal.json()["expires_in"] == 4 * 3600

        env.clock.advance(30 * 60 - 1)
        assert env.client.get("/auth/whoami", headers=bearer(token)).status_code == 200
        env.clock.advance(2)
        late = env.client.get("/auth/whoami", headers=bearer(token))
        assert (late.status_code, reason_of(late)) == (401, "expired_token")

        # The end of the bris de glace was traced at its time box, with the reason "expired",
        # without waiting for the console to report it.
        ended = env.client.post("/auth/access/end", json={"reason": "user"}, headers=bearer(token))
        assert ended.status_code == 200, ended.text
        assert ended.json()["already_ended"] is True
        assert ended.json()["end_reason"] == "expired"
        assert ended.json()["duration_s"] == 30 * 60
        [stop] = env.audit(subtype_code="emergency-override-stopped")
        assert "30 min 00 s" in stop["description"]
        assert "expired" in stop["description"]


def test_ending_an_access_revokes_its_token_and_is_idempotent(env: Env) -> None:
    token = env.patient_token(
        "emergency",
        STRANGER,
        "bris_de_glace",
        reason_code="URGENCE_VITALE",
        justification=JUSTIFICATION,
    )
    assert env.client.get("/auth/whoami", headers=bearer(token)).status_code == 200
    env.clock.advance(125)
    ended = env.client.post("/auth/access/end", json={"reason": "user"}, headers=bearer(token))
    assert ended.status_code == 200, ended.text
    body = ended.json()
    assert (body["already_ended"], body["end_reason"], body["mode"], body["duration_s"]) == (
        False,
        "user",
        "bris_de_glace",
        125,
    )
    after = env.client.get("/auth/whoami", headers=bearer(token))
    assert (after.status_code, reason_of(after)) == (401, "revoked_token")

    again = env.client.post("/auth/access/end", json={"reason": "quit"}, headers=bearer(token))
    assert again.status_code == 200
    assert (again.json()["already_ended"], again.json()["end_reason"]) == (True, "user")
    [stop] = env.audit(subtype_code="emergency-override-stopped")
    assert (stop["type_code"], stop["purpose_of_use"], stop["patient_ins"]) == (
        "110113",
        "bris_de_glace",
        STRANGER,
    )
    assert "2 min 05 s" in stop["description"]


def test_ending_access_needs_a_patient_token(env: Env) -> None:
    professional = env.client.post(
        "/auth/access/end", json={"reason": "user"}, headers=bearer(env.login("gp"))
    )
    assert (professional.status_code, reason_of(professional)) == (403, "not_patient_token")
    forged = env.client.post("/auth/access/end", json={}, headers=bearer("forged"))
    assert forged.status_code == 401
    token = env.patient_token("gp", TREATED)
    bad = env.client.post("/auth/access/end", json={"reason": "DROP TABLE"}, headers=bearer(token))
    assert bad.status_code == 400
    default = env.client.post("/auth/access/end", headers=bearer(token))
    assert (default.status_code, default.json()["end_reason"]) == (200, "user")
    [end] = env.audit(subtype_code="access-end")
    assert (end["type_code"], end["purpose_of_use"]) == ("rest", "normal")


def test_a_new_access_to_the_same_patient_supersedes_the_previous_one(env: Env) -> None:
    professional = env.login("gp")
    normal = env.access(professional, TREATED).json()["access_token"]
    bdg = env.access(
        professional,
        TREATED,
        "bris_de_glace",
        reason_code="URGENCE_VITALE",
        justification=JUSTIFICATION,
    ).json()["access_token"]
    assert env.client.get("/auth/whoami", headers=bearer(normal)).status_code == 401
    assert env.client.get("/auth/whoami", headers=bearer(bdg)).json()["mode"] == "bris_de_glace"
    [ended] = env.store.query("SELECT * FROM access_episodes WHERE ended IS NOT NULL")
    assert (ended["mode"], ended["end_reason"]) == ("normal", "superseded")


def test_first_access_and_every_bris_de_glace_are_notified(env: Env) -> None:
    nurse = env.login("nurse")
    assert env.access(nurse, STRANGER, consent={"method": "ecrit"}).status_code == 200
    [first] = env.notifications(STRANGER)
    assert (first["kind"], first["id_nat"]) == ("first_access", BY_ID["nurse"].id_nat)
    assert "Julie PETIT" in first["message"]
    assert "première fois" in first["message"]
    assert env.access(nurse, STRANGER).status_code == 200
    assert env.access(env.login("nurse"), STRANGER).status_code == 200
    assert len(env.notifications(STRANGER)) == 1

    emergency = env.login("emergency")
    for _ in range(2):
        answer = env.access(
            emergency,
            STRANGER,
            "bris_de_glace",
            reason_code="URGENCE_VITALE",
            justification=JUSTIFICATION,
        )
        assert answer.status_code == 200, answer.text
    kinds = [(n["kind"], n["id_nat"]) for n in env.notifications(STRANGER)]
    emergency_id = BY_ID["emergency"].id_nat
    assert kinds == [
        ("first_access", BY_ID["nurse"].id_nat),
        ("first_access", emergency_id),
        ("bris_de_glace", emergency_id),
        ("bris_de_glace", emergency_id),
    ]
    # A refused access is no access: no notification for it.
    refused = env.access(env.login("hospital_doctor"), STRANGER)
    assert refused.status_code == 403
    assert len(env.notifications(STRANGER)) == 4


def test_every_mode_change_is_audited(env: Env) -> None:
    env.access(env.login("gp"), TREATED)
    env.access(
        env.login("emergency"),
        STRANGER,
        "bris_de_glace",
        reason_code="URGENCE_VITALE",
        justification=JUSTIFICATION,
    )
    env.access(env.login("regulator"), STRANGER, "centre_15")
    events = [
        (e["type_code"], e["subtype_code"], e["purpose_of_use"], e["outcome"])
        for e in env.audit()
        if e["subtype_code"] != "login"
    ]
    assert events == [
        ("rest", "access", "normal", "0"),
        ("110113", "emergency-override-started", "bris_de_glace", "0"),
        ("rest", "access", "centre_15", "0"),
    ]


def test_bad_access_requests(env: Env) -> None:
    token = env.login("gp")
    bad_key = env.client.post(
        "/auth/access",
        json={"patient": f"{INS_SYSTEM}|{TREATED[:13]}00", "mode": "normal"},
        headers=bearer(token),
    )
    assert (bad_key.status_code, reason_of(bad_key)) == (422, "invalid_ins")
    assert "clé" in diagnostics_of(bad_key)
    bad_system = env.client.post(
        "/auth/access",
        json={"patient": f"urn:oid:1.2.3|{TREATED}", "mode": "normal"},
        headers=bearer(token),
    )
    assert bad_system.status_code == 422
    unknown = env.access(token, NOT_IN_DMP)
    assert (unknown.status_code, reason_of(unknown)) == (404, "unknown_patient")
    bad_mode = env.access(token, TREATED, "curiosite")
    assert (bad_mode.status_code, reason_of(bad_mode)) == (400, "unknown_mode")
    no_patient = env.client.post("/auth/access", json={"mode": "normal"}, headers=bearer(token))
    assert (no_patient.status_code, reason_of(no_patient)) == (400, "missing_field")
    bad_consent = env.access(token, STRANGER, consent="oral")
    assert bad_consent.status_code == 400
    assert env.store.query("SELECT * FROM access_episodes") == []


def test_a_patient_token_cannot_open_records(env: Env) -> None:
    patient_a = env.patient_token("gp", TREATED)
    for ins in (TREATED, STRANGER):
        answer = env.access(patient_a, ins, consent={"method": "oral"})
        assert (answer.status_code, reason_of(answer)) == (403, "not_professional_token")


def test_access_needs_a_valid_token(env: Env) -> None:
    forged = env.access("forged", TREATED)
    assert (forged.status_code, reason_of(forged)) == (401, "invalid_token")
    absent = env.client.post("/auth/access", json={"patient": TREATED, "mode": "normal"})
    assert absent.status_code == 401
    assert absent.headers["www-authenticate"].startswith("Bearer")
