"""Supabase through its REST API (PostgREST), for a project URL and a service-role key.

Split the way octoDNS splits an HTTP provider:

* ``settings``: the project URL and the key, from the database URL or
  ``$SUPABASE_SERVICE_ROLE_KEY``; which role a key acts as.
* ``client``: the HTTP session supabase-py sets up, retries, and every error
  explained in one line without secrets.
* ``codec``: values to and from PostgREST's JSON and filter syntax, exactly as
  the PostgreSQL backend reads them (a ``numeric`` never loses a digit).
* ``describe``: tables described by the migration's ``configsync_describe()``,
  as the PostgreSQL backend describes them; what ``configsync_apply`` manages.
* ``introspection``: tables described from PostgREST's OpenAPI description
  (a project without ``configsync_describe``).
* ``paging``: reads in ordered, keyed pages, checked against the row count.
* ``rpc``: apply as one call of ``configsync_apply(plan jsonb)``, one transaction.
* ``stepwise``: apply without that function (``--non-atomic``), read back and
  reported change by change.
* ``backend``: ``RestBackend``, the ``Backend`` that puts these together.

The migration that installs ``configsync_apply`` is rendered outside the
backends, by ``configsync.supabase_migration``. Nothing is imported here, so
that each module can be imported on its own.
"""
