"""Operations on a deployment: provisioning and the start-up checks."""
