//! What can go wrong reading a source, each with what to do about it.

/// What can go wrong reading a source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The source location cannot be used.
    #[error("source {location}: {problem}")]
    Location {
        /// The location given.
        location: String,
        /// What is wrong.
        problem: Problem,
    },
    /// Reading an object failed.
    #[error("{key}: {problem}")]
    Read {
        /// Object key.
        key: String,
        /// What is wrong.
        problem: Problem,
    },
}

impl SourceError {
    /// True when no later request of this run can succeed either (credentials missing,
    /// expired or rejected), so a sync should stop rather than fail every table alike.
    pub fn ends_the_run(&self) -> bool {
        let (SourceError::Location { problem, .. } | SourceError::Read { problem, .. }) = self;
        match problem {
            Problem::NoCredentials { .. } => true,
            Problem::Refused(refusal) => refusal.kind() == RefusalKind::Credentials,
            _ => false,
        }
    }
}

/// Why a source or one of its objects could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// An `s3://` location was expected.
    #[error("expected s3://bucket[/prefix]")]
    NotS3Url,
    /// `s3://` with nothing after it.
    #[error("no bucket name")]
    NoBucket,
    /// A local source that is not a folder.
    #[error("not a directory")]
    NotADirectory,
    /// The file system refused.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A listed object that is no longer there.
    #[error("no such object")]
    Missing,
    /// A byte range beyond the object's end.
    #[error("range {start}..{end} is outside the object")]
    OutOfRange {
        /// First byte asked for.
        start: u64,
        /// End of the range asked for.
        end: u64,
    },
    /// Fewer bytes came than were asked for.
    #[error("object ended {missing} bytes early")]
    EndedEarly {
        /// Bytes that never came.
        missing: u64,
    },
    /// The object was replaced between listing and reading (its ETag changed).
    #[error("the object changed while it was being read; run the sync again")]
    Changed,
    /// S3 answered with an error.
    #[error("{0}")]
    Refused(S3Refusal),
    /// The credential chain found nothing.
    #[error("no AWS credentials found (tried the environment, the shared profile, web identity, the container and the instance role); set AWS_PROFILE or use --profile [{tried}]")]
    NoCredentials {
        /// Which configuration was used.
        tried: String,
    },
    /// Connections kept failing.
    #[error("{cause} (gave up after {attempts} attempts)")]
    GaveUp {
        /// The last failure, with its causes.
        cause: String,
        /// Attempts made.
        attempts: u32,
    },
    /// A failure the SDK could not classify.
    #[error("{0}")]
    Other(String),
}

/// An error answer from S3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Refusal {
    /// S3's error code, e.g. `AccessDenied`.
    pub code: String,
    /// The HTTP status.
    pub status: u16,
    /// S3's message.
    pub message: String,
    /// Which configuration was used, for the credentials hints.
    pub tried: String,
}

/// What an S3 refusal means for the person running the sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The credentials may not read this.
    AccessDenied,
    /// The credentials expired or are not valid.
    Credentials,
    /// The bucket lives in another region.
    WrongRegion,
    /// Anything else.
    Other,
}

impl S3Refusal {
    /// What the refusal means.
    pub fn kind(&self) -> RefusalKind {
        match self.code.as_str() {
            "AccessDenied" | "AllAccessDisabled" | "AccountProblem" => RefusalKind::AccessDenied,
            "ExpiredToken"
            | "TokenRefreshRequired"
            | "RequestExpired"
            | "InvalidToken"
            | "InvalidAccessKeyId"
            | "SignatureDoesNotMatch" => RefusalKind::Credentials,
            "PermanentRedirect" | "AuthorizationHeaderMalformed" => RefusalKind::WrongRegion,
            _ => RefusalKind::Other,
        }
    }
}

impl std::fmt::Display for S3Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (HTTP {}): {}", self.code, self.status, self.message)?;
        match self.kind() {
            RefusalKind::AccessDenied => write!(
                f,
                "; these credentials ({}) may not read it: grant s3:ListBucket, s3:GetObject and kms:Decrypt as in the README's IAM policy, then run sync again",
                self.tried
            ),
            RefusalKind::Credentials => write!(
                f,
                "; the AWS credentials ({}) expired or are not valid: refresh them (e.g. `aws sso login`, or a new role session) and run sync again; what was committed before stays",
                self.tried
            ),
            RefusalKind::WrongRegion => write!(f, " (wrong region? use --region) [{}]", self.tried),
            RefusalKind::Other => write!(f, " [{}]", self.tried),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(code: &str) -> SourceError {
        SourceError::Read {
            key: "k.csv".into(),
            problem: Problem::Refused(S3Refusal {
                code: code.into(),
                status: 403,
                message: "no".into(),
                tried: "profile default".into(),
            }),
        }
    }

    #[test]
    fn credential_failures_end_the_run_and_say_what_to_do() {
        let expired = refusal("ExpiredToken");
        assert!(expired.ends_the_run());
        assert!(expired.to_string().contains("aws sso login"), "{expired}");
        let denied = refusal("AccessDenied");
        assert!(!denied.ends_the_run());
        assert!(denied.to_string().contains("s3:GetObject"), "{denied}");
        assert!(!refusal("SlowDown").ends_the_run());
    }
}
