-- participant_pid = HMAC-SHA256(key, source + U+001F + ref) in hex, as txpipe.ingest.pseudonym computes it
-- (refs come stripped; a blank one has no pid). $ipad/$opad are the key's two HMAC pads.
SELECT CASE WHEN participant_ref = '' THEN NULL
            ELSE sha256($opad || unhex(sha256($ipad || encode($prefix || participant_ref))))
       END AS participant_pid
FROM chunk_refs
