"""Course content on disk: quizzes/*.toml and exercises/*/, validated and synced."""
