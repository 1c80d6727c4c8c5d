"""The permission matrix: role × workflow state × operation.

The expectations come from ``POLICY`` below, written out by hand: the intended policy as
repo/security.py (PERMISSIONS) and repo/workflow.py (TRANSITIONS) state it, which follows
Plone's simple_publication_workflow (private → pending → published; Owner edits while private;
Reviewer publishes; published content is changed by Editors and Managers only). Every cell
is asserted against a real site: an allowed operation takes effect, a refused one raises
NotFound / Forbidden / WorkflowError and leaves both stores (and the journal) exactly as
they were.
"""

from __future__ import annotations

import pytest
from support import AGENTS, FILE, FONDS, PERSON, SERIES, Site, new_site

from repo.errors import Conflict, Forbidden, Invalid, LantaiError, NotFound, WorkflowError
from repo.repository import NewObject
from repo.security import PERMISSIONS, User
from repo.values import Assignment
from repo.workflow import TRANSITIONS

STATES = ("private", "pending", "published")
STAFF = frozenset({"Reader", "Contributor", "Editor", "Reviewer", "Manager", "Owner"})
ALL = {s: STAFF for s in STATES}


def every_state(*roles: str) -> dict[str, frozenset[str]]:
    return {s: frozenset(roles) for s in STATES}


# operation → state → roles allowed. Transitions list only the states they start from.
POLICY: dict[str, dict[str, frozenset[str]]] = {
    "view": ALL,
    "add": every_state("Owner", "Contributor", "Editor", "Manager"),
    "edit": {"private": frozenset({"Owner", "Editor", "Manager"}),
             "pending": frozenset({"Editor", "Reviewer", "Manager"}),
             "published": frozenset({"Editor", "Manager"})},
    "delete": {"private": frozenset({"Owner", "Editor", "Manager"}),
               "pending": frozenset({"Editor", "Manager"}),
               "published": frozenset({"Manager"})},
    # move = delete here + add in the target container (checked separately below)
    "move": {"private": frozenset({"Owner", "Editor", "Manager"}),
             "pending": frozenset({"Editor", "Manager"}),
             "published": frozenset({"Manager"})},
    "submit": {"private": frozenset({"Owner", "Contributor", "Editor", "Manager"})},
    "retract": {"pending": frozenset({"Owner", "Editor", "Manager"})},
    "publish": {"private": frozenset({"Reviewer", "Manager"}),
                "pending": frozenset({"Reviewer", "Manager"})},
    "reject": {"pending": frozenset({"Reviewer", "Manager"})},
    "withdraw": {"published": frozenset({"Reviewer", "Manager"})},
    "open": every_state("Reviewer", "Manager"),
    "restrict": every_state("Editor", "Reviewer", "Manager"),
    "grant": every_state("Manager"),
}
TRANSITION_OPS = ("submit", "retract", "publish", "reject", "withdraw")
OPERATIONS = tuple(POLICY)
TARGET_STATE = {"submit": "pending", "retract": "private", "publish": "published",
                "reject": "private", "withdraw": "private"}

# Who acts in each row, and the roles that gives them on the object under test (a file in
# /xjtu/students) and on its container (where a move puts it back under a new name).
ROWS = ("Reader", "Contributor", "Editor", "Reviewer", "Manager", "Owner", "NoRole",
        "LocalEditor")
ROLES_ON_OBJECT = {"Reader": {"Reader"}, "Contributor": {"Contributor"}, "Editor": {"Editor"},
                   "Reviewer": {"Reviewer"}, "Manager": {"Manager"}, "Owner": {"Owner"},
                   "NoRole": set(), "LocalEditor": {"Editor"}}
ROLES_ON_CONTAINER = {**ROLES_ON_OBJECT, "Owner": set()}
ACTOR = {"Reader": "reader", "Contributor": "contributor", "Editor": "editor",
         "Reviewer": "reviewer", "Manager": "manager", "Owner": "owner", "NoRole": "nobody",
         "LocalEditor": "localeditor"}


def expected_outcome(row: str, state: str, op: str) -> type[LantaiError] | None:
    """None if the operation is allowed, else the error class it must raise."""
    roles = ROLES_ON_OBJECT[row]
    if not roles & POLICY["view"][state]:
        return NotFound  # the object is not even confirmed to exist
    if op in TRANSITION_OPS and state not in POLICY[op]:
        return WorkflowError
    ok = bool(roles & POLICY[op][state])
    if op == "move":
        ok = ok and bool(ROLES_ON_CONTAINER[row] & POLICY["add"]["private"])
    return None if ok else Forbidden


# ---------------------------------------------------------------------- the policy itself
def test_policy_table_is_what_the_code_enforces():
    """The hand-written table and the code's tables say the same (a readable diff if not)."""
    code = {"view": PERMISSIONS["view"], "add": PERMISSIONS["add"],
            "edit": PERMISSIONS["modify"], "delete": PERMISSIONS["delete"],
            "move": PERMISSIONS["delete"], "open": PERMISSIONS["open"],
            "restrict": PERMISSIONS["restrict"], "grant": PERMISSIONS["manage"]}
    for name, t in TRANSITIONS.items():
        code[name] = {s: t.roles for s in t.source}
        assert t.target == TARGET_STATE[name]
    assert {op: {s: set(r) for s, r in v.items()} for op, v in code.items()} == \
        {op: {s: set(r) for s, r in v.items()} for op, v in POLICY.items()}


def test_policy_is_plones_simple_publication_workflow():
    """Sanity checks of the intended policy against Plone's simple publication workflow."""
    # only reviewers (and managers) publish, reject and withdraw
    for op in ("publish", "reject", "withdraw"):
        assert all(r <= {"Reviewer", "Manager"} for r in POLICY[op].values())
    # the owner edits and deletes while private, and submits or retracts their own work
    assert "Owner" in POLICY["edit"]["private"] and "Owner" not in POLICY["edit"]["published"]
    assert "Owner" in POLICY["submit"]["private"] and "Owner" in POLICY["retract"]["pending"]
    # readers only read; reviewers do not create content
    for op, by_state in POLICY.items():
        if op != "view":
            assert all("Reader" not in r for r in by_state.values()), op
    assert all("Reviewer" not in r for r in POLICY["add"].values())
    # published content: only editors and managers change it, only managers delete it
    assert POLICY["edit"]["published"] == {"Editor", "Manager"}
    assert POLICY["delete"]["published"] == {"Manager"}
    # opening to the public is a reviewer's decision; closing is also an editor's
    assert POLICY["open"]["private"] < POLICY["restrict"]["private"]


# ---------------------------------------------------------------------- the matrix
@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """One site per row (kept small so snapshots stay cheap), built on first use, with one
    fresh file per (state, operation) in /xjtu/students, imported in bulk: a cell's object
    is touched by that cell only."""
    built: dict[str, Site] = {}

    def get(row: str) -> Site:
        if row not in built:
            s = new_site(tmp_path_factory.mktemp(f"perm-{row.lower()}"))
            admin = s.admin
            s.repo.add_user(admin, "owner", roles=[], fullname="Created things once")
            s.repo.add_user(admin, "localeditor", roles=[], fullname="Editor of the series")
            s.repo.grant(admin, "localeditor", "Editor", on=SERIES)
            specs: dict[str, list[NewObject]] = {}
            for state in STATES:
                # The Owner row's user created the files (as a contributor, and published the
                # published ones as a reviewer) and has no role now: the repository trusts the
                # User object its caller authenticated.
                creator = "admin" if row != "Owner" else \
                    ("owner-reviewer" if state == "published" else "owner-contributor")
                for op in OPERATIONS:
                    specs.setdefault(creator, []).append(NewObject(
                        SERIES, "file",
                        {"title": {"zh": f"案卷 {state} {op}", "en": f"File {state} {op}"},
                         "begin": "1960"},
                        slug=f"{state}-{op}", key=f"{state}-{op}", state=state,
                        access="restricted" if op == "open" else None))
            users = {"admin": admin, "owner-contributor": User("owner", {"Contributor"}),
                     "owner-reviewer": User("owner", {"Contributor", "Reviewer"})}
            for creator, batch in specs.items():
                s.repo.ingest(users[creator], batch, message=f"matrix objects for {row}")
            built[row] = s
        return built[row]

    yield get
    for s in built.values():
        s.close()


def prepare(site: Site, row: str, state: str, op: str) -> str:
    """The cell's own file, in ``state``; returns its path."""
    path = f"{SERIES}/{state}-{op}"
    obj = site.repo.load(site.repo.resolve(path))
    assert obj.state == state and obj.revision == 1
    assert obj.owner == ("owner" if row == "Owner" else "admin")
    assert obj.access == ("restricted" if op == "open" else "open")
    return path


def attempt(site: Site, user: User, path: str, op: str):
    repo = site.repo
    if op == "view":
        return repo.get(user, path)
    if op == "add":
        return repo.create(user, path, "item",
                           {"title": {"zh": "新件", "en": "New item"}, "begin": "1960-05-04"},
                           slug="child")
    if op == "edit":
        return repo.edit(user, path, set={"title@en": "Edited title"})
    if op == "delete":
        return repo.delete(user, path)
    if op == "move":
        return repo.move(user, path, SERIES, slug=path.rsplit("/", 1)[-1] + "-renamed")
    if op in TRANSITION_OPS:
        return repo.transition(user, path, op)
    if op == "open":
        return repo.set_access(user, path, "open")
    if op == "restrict":
        return repo.set_access(user, path, "restricted")
    if op == "grant":
        return repo.grant(user, "reader", "Editor", on=path)
    raise AssertionError(op)


def check_effect(site: Site, iri: str, path: str, op: str, result) -> None:
    repo = site.repo
    obj = repo.load(iri)
    if op == "view":
        assert result.iri == iri
    elif op == "add":
        assert result.parent == iri and result.path == path + "/child"
    elif op == "edit":
        assert ("Edited title", "en") in obj.fields()["title"]
        assert obj.revision == result.revision > 1
    elif op == "delete":
        assert obj.deleted
    elif op == "move":
        assert obj.path == path + "-renamed" and obj.iri == iri
    elif op in TRANSITION_OPS:
        assert obj.state == TARGET_STATE[op]
    elif op == "open":
        assert obj.access == "open"
    elif op == "restrict":
        assert obj.access == "restricted"
    elif op == "grant":
        assert obj.local_roles().get("reader") == {"Editor"}


@pytest.mark.parametrize("op", OPERATIONS)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("row", ROWS)
def test_matrix(sites, row, state, op):
    site = sites(row)
    path = prepare(site, row, state, op)
    iri = site.repo.resolve(path)
    user = site.user(ACTOR[row])
    want = expected_outcome(row, state, op)
    before = site.snapshot()
    if want is None:
        result = attempt(site, user, path, op)
        check_effect(site, iri, path, op, result)
        return
    with pytest.raises(want) as info:
        attempt(site, user, path, op)
    assert info.value.message and "\n" not in info.value.message
    assert site.snapshot() == before, f"{row} {op} on {state} was refused but wrote"
    assert not list((site.home / "journal").iterdir())


# ---------------------------------------------------------------------- around the matrix
def test_local_role_applies_inside_its_container_only(site):
    repo, admin = site.repo, site.admin
    repo.add_user(admin, "wang", roles=[])
    repo.grant(admin, "wang", "Editor", on=SERIES)
    wang = site.user("wang")
    # inside: an editor (on the series itself and everything below it)
    repo.edit(wang, SERIES + "/register-1957", set={"title@en": "Register 1957"})
    repo.create(wang, SERIES, "file", {"title": {"zh": "新案卷", "en": "New file"}})
    # outside: nothing, not even the fonds above the series or the sibling series
    before = site.snapshot()
    for ref in (FONDS, "/xjtu/admin", AGENTS, PERSON):
        with pytest.raises(NotFound):
            repo.get(wang, ref)
        with pytest.raises((NotFound, Forbidden)):
            repo.edit(wang, ref, set={"title@en": "No"} if ref != PERSON else
                      {"name@en": "No"})
    assert site.snapshot() == before


def test_local_roles_of_other_users_do_not_apply(site):
    repo, admin = site.repo, site.admin
    repo.grant(admin, "reader", "Editor", on=SERIES)
    with pytest.raises(Forbidden):
        repo.edit(site.user("contributor"), SERIES, set={"title@en": "No"})
    repo.edit(site.user("reader"), SERIES, set={"title@en": "Yes"})


def test_invisible_object_and_missing_object_give_the_same_answer(site):
    nobody = site.user("nobody")
    with pytest.raises(NotFound) as hidden:
        site.repo.get(nobody, PERSON)
    with pytest.raises(NotFound) as missing:
        site.repo.get(nobody, "/agents/li-si")
    assert hidden.value.message.replace("zhang-san", "X") == \
        missing.value.message.replace("li-si", "X")


def test_adding_to_an_invisible_container_does_not_confirm_it_exists(site):
    nobody = site.user("nobody")
    with pytest.raises(NotFound):
        site.repo.create(nobody, SERIES, "file", {"title": {"zh": "案卷", "en": "File"}})


def test_site_wide_grants_and_accounts_need_a_manager(site):
    repo = site.repo
    before = site.snapshot()
    for role in ("Reader", "Contributor", "Editor", "Reviewer"):
        actor = site.role(role)
        with pytest.raises(Forbidden):
            repo.grant(actor, "nobody", "Editor")
        with pytest.raises(Forbidden):
            repo.add_user(actor, "newcomer", roles=["Reader"])
        with pytest.raises(Forbidden):
            repo.export_rdf(actor, public=False, fmt="nq")
    assert site.snapshot() == before
    repo.grant(site.role("Manager"), "nobody", "Reader")
    assert site.user("nobody").roles == {"Reader"}
    site.repo.get(site.user("nobody"), PERSON)  # a reader now


def test_bad_role_and_user_names_are_invalid(site):
    repo, admin = site.repo, site.admin
    before = site.snapshot()
    with pytest.raises(Invalid):
        repo.grant(admin, "reader", "Owner")  # Owner is implied, never granted
    with pytest.raises(Invalid):
        repo.grant(admin, "reader", "Superuser", on=SERIES)
    with pytest.raises(NotFound):
        repo.grant(admin, "ghost", "Editor")
    with pytest.raises(Invalid):
        repo.add_user(admin, "Bad Name", roles=["Reader"])
    with pytest.raises(Invalid):
        repo.add_user(admin, "short", roles=["Reader"], password="1234")
    with pytest.raises(LantaiError):
        repo.add_user(admin, "reader", roles=["Reader"])  # exists already
    assert site.snapshot() == before


def test_recursive_transition_takes_only_what_the_user_may(site):
    repo, admin = site.repo, site.admin
    repo.transition(admin, SERIES + "/register-1957", "submit")
    # the contributor may submit the private ones; the pending file is left as it is
    changed = repo.transition(site.role("Contributor"), SERIES, "submit", recursive=True)
    states = {o.path: o.state for o in changed}
    assert states == {SERIES: "pending", SERIES + "/register-1957/page-1": "pending"}
    before = site.snapshot()
    with pytest.raises(Forbidden):
        repo.transition(site.role("Contributor"), SERIES, "publish", recursive=True)
    assert site.snapshot() == before


def test_authentication(tmp_path, clock):
    s = new_site(tmp_path / "auth", clock, tree=False, users=False, admin_password="correct horse")
    try:
        repo = s.repo
        assert repo.authenticate("admin", password="correct horse").name == "admin"
        assert repo.authenticate("admin", token=s.token).name == "admin"
        assert repo.user_for_token(s.token).name == "admin"
        for kw in ({"password": "wrong horse"}, {"token": "lt_nope"}, {}):
            with pytest.raises(Forbidden):
                repo.authenticate("admin", **kw)
        with pytest.raises(Forbidden):
            repo.authenticate("ghost", password="correct horse")
        with pytest.raises(Forbidden):
            repo.user_for_token("lt_nope")
        stored = "".join(str(q) for q in repo.working)
        assert "correct horse" not in stored and s.token not in stored
    finally:
        s.close()


def test_linking_to_a_record_one_may_not_view_answers_as_for_a_missing_one(site):
    """Issue 10, item 12: the answer for a hidden target is byte-identical to the answer for
    a target that does not exist (the given reference put aside), and no link is added."""
    from test_api import Api

    repo, admin = site.repo, site.admin
    repo.grant(admin, "nobody", "Editor", on=FILE)  # may edit the file, may not see /agents
    nobody = site.user("nobody")
    hidden_iri, missing_iri = site.iris[PERSON], site.iris[PERSON] + "-not-there"
    answers = []
    for hidden, missing in ((hidden_iri, missing_iri), (PERSON, PERSON + "-not-there")):
        got = []
        for ref in (hidden, missing):
            with pytest.raises(NotFound) as info:
                repo.edit(nobody, FILE, add=[Assignment("subject", None, ref)])
            got.append(info.value.message.replace(ref, "REF"))
            with pytest.raises(NotFound) as info:
                repo.create(nobody, FILE, "item", {"title": {"en": "Linked"}, "subject": ref})
            got.append(info.value.message.replace(ref, "REF"))
        assert got[0] == got[2] and got[1] == got[3], got
        answers.append(got)
    assert "subject" not in repo.load(site.iris[FILE]).fields()
    api = Api(site)
    bodies = []
    for ref in (hidden_iri, missing_iri):
        resp = api.patch(FILE, {"add": {"subject": [ref]}}, user="nobody")
        bodies.append((resp.status_code, resp.get_data(as_text=True).replace(ref, "REF")))
    assert bodies[0] == bodies[1] and bodies[0][0] == 404, bodies


def test_giving_a_key_needs_a_site_wide_role_that_sees_everything(site):
    """Issue 10, item 12: "that key exists" (409) told a user who may not see an object that
    it is there. A user without a site-wide role gets the same 403 for a hidden object's key
    and for a free one (byte-identical through the API); a Manager still gets 409."""
    from test_api import Api

    repo, admin = site.repo, site.admin
    repo.grant(admin, "nobody", "Editor", on=FILE)  # may add to the file, may not see /agents
    nobody = site.user("nobody")
    repo.create(admin, FONDS + "/admin", "item", {"title": {"en": "Elsewhere"}}, key="hidden")
    hidden, free = "hidden", "not-there"  # an item nobody may not see; a free key
    messages = []
    for key in (hidden, free):
        with pytest.raises(Forbidden) as info:
            repo.create(nobody, FILE, "item", {"title": {"en": "Keyed"}}, key=key)
        messages.append(info.value.message)
    assert messages[0] == messages[1] and "giving a key needs" in messages[0]
    made = repo.create(nobody, FILE, "item", {"title": {"en": "Unkeyed"}})  # no key: fine
    assert made.path.startswith(FILE + "/")
    with pytest.raises(Conflict):
        repo.create(admin, FILE, "item", {"title": {"en": "Keyed"}}, key=hidden)
    api = Api(site)
    answers = []
    for key in (hidden, free):
        resp = api.post(FILE, {"type": "item", "key": key, "title": {"en": "Keyed"}},
                        user="nobody")
        answers.append((resp.status_code, resp.get_data()))
    assert answers[0] == answers[1] and answers[0][0] == 403, answers
    taken = api.post(FILE, {"type": "item", "key": hidden, "title": {"en": "Keyed"}},
                     user="admin")
    assert taken.status_code == 409, taken.get_data(as_text=True)
