-- Migration 4: a rating per entry, KDE's `user.baloo.rating` (0 to 10: half stars; Dolphin shows five stars).
ALTER TABLE user_metadata ADD COLUMN rating INTEGER CHECK (rating BETWEEN 1 AND 10);
