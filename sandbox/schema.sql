-- The sandbox's SQLite schema. user_version tracks migrations:
--   1: the first schema;
--   2: related_persons and advance_directives ("Entourage et volontés");
--   3: refresh_tokens (e-CPS sessions refreshed without the phone).
-- Every table is CREATE TABLE IF NOT EXISTS, so running this file on an older database adds
-- what the later versions brought (existing directories are re-seeded by `init --force`).
-- Times: ISO 8601 with timezone in TEXT columns named *_at / created / deposited;
-- epoch seconds (REAL) in the auth tables (expires, started...).
PRAGMA user_version = 3;

CREATE TABLE IF NOT EXISTS meta (          -- seed, reference date, init options and time
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS structures (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL                     -- cabinet | etablissement | centre_15 | officine
);

-- The professional directory (annuaire santé): idNat -> who she is.
CREATE TABLE IF NOT EXISTS professionals (
    id_nat TEXT PRIMARY KEY,
    family_name TEXT NOT NULL,
    given_name TEXT NOT NULL,
    profession TEXT NOT NULL,              -- matrix key: TRE_G15 code or SECRETARIAT_MEDICAL
    profession_label TEXT NOT NULL,
    specialty TEXT,                        -- TRE_R38 code (SM54 ...)
    role TEXT NOT NULL,                    -- ps | regulator | secretary
    structure_id TEXT NOT NULL REFERENCES structures(id),
    card_kind TEXT NOT NULL                -- CPS | CPE
);

CREATE TABLE IF NOT EXISTS patients (
    ins TEXT PRIMARY KEY,                  -- NIR, 15 characters, valid key
    ins_system TEXT NOT NULL,              -- urn:oid:1.2.250.1.213.1.4.8 (or test ...4.10)
    family_name TEXT NOT NULL,
    given_names TEXT NOT NULL,             -- space separated, first is the usual one
    birth_date TEXT NOT NULL,              -- YYYY-MM-DD
    gender TEXT NOT NULL,                  -- male | female
    birth_place TEXT,                      -- INSEE code of the commune of birth
    address_city TEXT,
    medecin_traitant TEXT,                 -- idNat or NULL
    opposed_bris_de_glace INTEGER NOT NULL DEFAULT 0,
    opposed_centre_15 INTEGER NOT NULL DEFAULT 0
);

-- Who the patient authorised: care_team (care team / recorded consent) or mt_equivalent
-- (same rights as the médecin traitant: sees masked documents).
CREATE TABLE IF NOT EXISTS authorisations (
    patient_ins TEXT NOT NULL REFERENCES patients(ins),
    id_nat TEXT NOT NULL,
    kind TEXT NOT NULL,                    -- care_team | mt_equivalent
    method TEXT,                           -- how consent was obtained (oral, ecrit ...) or NULL
    created_at TEXT NOT NULL,
    PRIMARY KEY (patient_ins, id_nat, kind)
);

CREATE TABLE IF NOT EXISTS blocks (        -- professionals the patient blocked
    patient_ins TEXT NOT NULL REFERENCES patients(ins),
    id_nat TEXT NOT NULL,
    PRIMARY KEY (patient_ins, id_nat)
);

CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,                   -- DocumentReference id (uuid4 hex or seeded)
    master_id TEXT NOT NULL UNIQUE,        -- masterIdentifier value (urn:oid:... or urn:uuid:...)
    patient_ins TEXT NOT NULL REFERENCES patients(ins),
    type_code TEXT NOT NULL,
    type_system TEXT NOT NULL,
    class_code TEXT NOT NULL,
    title TEXT NOT NULL,
    author_id_nat TEXT NOT NULL,
    author_name TEXT NOT NULL,             -- "Given FAMILY"
    author_profession TEXT NOT NULL,       -- matrix key of the author
    structure_id TEXT,
    structure_name TEXT,
    entered_by TEXT,                       -- idNat of the secretary who entered it, or NULL
    created TEXT NOT NULL,                 -- date of the act (ISO datetime)
    deposited TEXT NOT NULL,               -- deposit time (ISO datetime)
    status TEXT NOT NULL DEFAULT 'current',-- current | superseded | entered-in-error
    archived INTEGER NOT NULL DEFAULT 0,
    visibility TEXT NOT NULL DEFAULT '',   -- space separated TRE_A07 codes
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha1 TEXT NOT NULL,                    -- hex sha1 of the body
    replaces TEXT,                         -- id of the document this one replaced
    submission_id TEXT,                    -- SubmissionSet List id
    submission_hash TEXT                   -- fingerprint of the submitted document (replay check)
);
CREATE INDEX IF NOT EXISTS documents_by_patient ON documents (patient_ins, deposited);

CREATE TABLE IF NOT EXISTS binaries (      -- document bodies (ITI-68)
    id TEXT PRIMARY KEY,                   -- equals the document id
    content_type TEXT NOT NULL,
    data BLOB NOT NULL
);

CREATE TABLE IF NOT EXISTS audit_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    recorded TEXT NOT NULL,
    type_code TEXT NOT NULL,               -- rest | 110113 (security alert) ...
    subtype_code TEXT NOT NULL,            -- search | read | create | update | ...
    action TEXT NOT NULL,                  -- C R U D E
    outcome TEXT NOT NULL,                 -- 0 success | 4 minor failure | 8 serious failure
    agent_id_nat TEXT,
    agent_name TEXT,
    purpose_of_use TEXT,                   -- normal | bris_de_glace | centre_15
    patient_ins TEXT,
    entity_ids TEXT NOT NULL DEFAULT '[]', -- JSON list of resource ids
    description TEXT                       -- reason text, query, refusal reason (no bodies)
);
CREATE INDEX IF NOT EXISTS audit_by_patient ON audit_events (patient_ins, seq);

CREATE TABLE IF NOT EXISTS notifications ( -- what the patient would have been told
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    patient_ins TEXT NOT NULL,
    created_at TEXT NOT NULL,
    kind TEXT NOT NULL,                    -- first_access | bris_de_glace | centre_15
    id_nat TEXT NOT NULL,
    professional_name TEXT NOT NULL,
    message TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS immunizations (
    id TEXT PRIMARY KEY,
    patient_ins TEXT NOT NULL REFERENCES patients(ins),
    vaccine_system TEXT NOT NULL,
    vaccine_code TEXT NOT NULL,
    vaccine_display TEXT NOT NULL,
    occurrence TEXT NOT NULL,              -- YYYY-MM-DD
    lot_number TEXT,
    performer_id_nat TEXT,
    performer_name TEXT,
    recorded_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'completed'
);

-- "Entourage et volontés" (version 2): the patient's person of trust, relatives to contact
-- and advance directives, as she recorded them in her profile.
CREATE TABLE IF NOT EXISTS related_persons (
    id TEXT PRIMARY KEY,
    patient_ins TEXT NOT NULL REFERENCES patients(ins),
    roles TEXT NOT NULL,                   -- space separated TRE_R260 codes: NOK (personne de
                                           -- confiance) and/or ECON (personne à prévenir)
    relationship TEXT,                     -- TRE_R216 code (SPS, MTH, FTH, DAUC ...)
    family_name TEXT NOT NULL,
    given_names TEXT NOT NULL,
    gender TEXT,                           -- male | female
    phones TEXT NOT NULL DEFAULT '[]',     -- JSON list of {"value", "use"} (mobile | home | work)
    rank INTEGER NOT NULL DEFAULT 0,       -- order among the relatives to contact (1 first)
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS related_by_patient ON related_persons (patient_ins, rank);

CREATE TABLE IF NOT EXISTS advance_directives (
    id TEXT PRIMARY KEY,
    patient_ins TEXT NOT NULL UNIQUE REFERENCES patients(ins),
    written INTEGER NOT NULL,              -- 1: she wrote some; 0: she declared she has none
    written_on TEXT,                       -- YYYY-MM-DD, when written
    location TEXT,                         -- where they are kept (free text)
    recorded_at TEXT NOT NULL
);

-- Authentication state.
CREATE TABLE IF NOT EXISTS challenges (
    nonce TEXT PRIMARY KEY,
    expires REAL NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS ciba_requests (
    auth_req_id TEXT PRIMARY KEY,
    id_nat TEXT NOT NULL,
    binding_message TEXT NOT NULL,
    scope TEXT,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    interval INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' -- pending | approved | denied | consumed | expired
);

CREATE TABLE IF NOT EXISTS access_episodes ( -- one per POST /auth/access that succeeded
    id TEXT PRIMARY KEY,
    id_nat TEXT NOT NULL,
    patient_ins TEXT NOT NULL,
    mode TEXT NOT NULL,
    reason_code TEXT,
    justification TEXT,
    started REAL NOT NULL,
    ends REAL NOT NULL,
    ended REAL,
    end_reason TEXT
);

CREATE TABLE IF NOT EXISTS tokens (        -- bearer tokens, stored hashed
    token_hash TEXT PRIMARY KEY,
    id_nat TEXT NOT NULL,
    kind TEXT NOT NULL,                    -- professional | patient
    patient_ins TEXT,
    episode_id TEXT,
    expires REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);

-- Refresh tokens of e-CPS sessions (version 3), stored hashed like the bearer tokens. One
-- family per CIBA login: each refresh marks the token it consumed as used and issues the
-- next one of the family; a used token presented again revokes the whole family.
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash TEXT PRIMARY KEY,           -- sha256 of the refresh token
    family_id TEXT NOT NULL,               -- the CIBA login the token descends from
    id_nat TEXT NOT NULL,
    access_hash TEXT NOT NULL,             -- the access token issued with it (tokens.token_hash)
    created REAL NOT NULL,
    expires REAL NOT NULL,                 -- its own end: created + refresh_token_ttl_s, capped
    session_ends REAL NOT NULL,            -- the family's absolute end (approval + cap)
    used REAL,                             -- when it was exchanged for the next one, or NULL
    revoked INTEGER NOT NULL DEFAULT 0     -- 1 once its family was revoked (replay)
);
CREATE INDEX IF NOT EXISTS refresh_by_family ON refresh_tokens (family_id);
