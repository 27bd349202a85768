-- Migration 3: Spacedrive's rule for empty files. Spacedrive v2 gives an empty file no content identity
-- (ContentHashError::EmptyFile); spacefs used to hash them all to one content (71e0a99173564931). Empty files lose
-- that content id, and so does metadata kept for a vanished empty file; the content rows of empty files go.
UPDATE entries SET content_id = NULL
    WHERE content_id IN (SELECT id FROM content_identity WHERE size = 0);
UPDATE user_metadata SET orphan_content_id = NULL
    WHERE orphan_content_id IN (SELECT id FROM content_identity WHERE size = 0);
DELETE FROM content_identity WHERE size = 0;
