//! Seeding a store with a configuration file's programme without overwriting
//! what the hub has recorded since (states, chairs' later decisions).
//!
//! A bulletin is added with its files: recordings, speech, pictures and
//! videos of bulletins the store does not hold yet are ingested into the
//! media store first, so a stored bulletin always names its media. That work is CPU-bound (seconds
//! per bulletin); async callers run [`seed_programme`] on a blocking thread.

use hub_core::{Bulletin, BulletinId, ChairOrder, Language, OptIn, Programme, Variant};
use hub_media::{AudioSettings, BoardSize};
use hub_store::{Batch, Record, Store, StoreError};

use crate::media::ingest::{ingest_all, AudioJob, IngestError};
use crate::media::visual::{ingest_job, VisualError, VisualJob};
use crate::media::MediaStore;

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audio(#[from] IngestError),
    #[error("bulletin {bulletin}, variant {language}: {source}")]
    Visual {
        bulletin: BulletinId,
        language: Language,
        source: Box<VisualError>,
    },
}

/// The files a configuration's bulletins need stored: audio to encode,
/// pictures to fit to `board`, videos to check.
pub struct MediaJobs<'a> {
    pub audio: &'a [AudioJob],
    pub visuals: &'a [VisualJob],
    pub board: BoardSize,
}

/// Adds each bulletin, chair order and opt-in of `programme` that the store
/// does not hold yet, in one atomic batch; new bulletins get their files
/// (`jobs`) ingested into `media` first. Nothing is added if any fails.
pub fn seed_programme(
    store: &Store,
    programme: &Programme,
    jobs: &MediaJobs<'_>,
    media: &MediaStore,
) -> Result<(), SeedError> {
    let mut new_bulletins: Vec<Bulletin> = Vec::new();
    for bulletin in programme.bulletins() {
        if store.get::<Bulletin>(&bulletin.key())?.is_none() {
            new_bulletins.push(bulletin.clone());
        }
    }
    let is_new = |id: &BulletinId| new_bulletins.iter().any(|b| &b.id == id);
    let audio_jobs: Vec<AudioJob> = jobs
        .audio
        .iter()
        .filter(|job| is_new(&job.bulletin))
        .cloned()
        .collect();
    let visual_jobs: Vec<&VisualJob> = jobs
        .visuals
        .iter()
        .filter(|job| is_new(&job.bulletin))
        .collect();
    let ingested = ingest_all(&audio_jobs, media, &AudioSettings::default())?;
    for (job, audio) in audio_jobs.iter().zip(ingested) {
        let variant = variant_of(&mut new_bulletins, &job.bulletin, &job.language);
        if let Some(part) = variant.and_then(|v| v.audio.as_mut()) {
            part.secs = audio.secs;
            part.media = Some(audio.media);
        }
    }
    for job in visual_jobs {
        let stored = ingest_job(job, jobs.board, media).map_err(|source| SeedError::Visual {
            bulletin: job.bulletin.clone(),
            language: job.language.clone(),
            source: Box::new(source),
        })?;
        let variant = variant_of(&mut new_bulletins, &job.bulletin, &job.language);
        if let Some(part) = variant.and_then(|v| v.visual.as_mut()) {
            if let Some(ms) = stored
                .duration_ms
                .filter(|_| part.secs == crate::config::UNMEASURED_SLOT_SECS)
            {
                // A video without a configured slot takes its own length.
                part.secs = u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX);
            }
            part.media = Some(stored);
        }
    }

    let mut batch = Batch::new();
    for bulletin in &new_bulletins {
        batch.put(bulletin)?;
    }
    add_missing::<ChairOrder>(store, &mut batch, programme.chair_orders())?;
    add_missing::<OptIn>(store, &mut batch, programme.opt_ins())?;
    store.apply(batch)?;
    Ok(())
}

/// The variant of `bulletin` in `language`.
fn variant_of<'a>(
    bulletins: &'a mut [Bulletin],
    bulletin: &BulletinId,
    language: &Language,
) -> Option<&'a mut Variant> {
    bulletins
        .iter_mut()
        .find(|b| &b.id == bulletin)?
        .variants
        .iter_mut()
        .find(|v| &v.language == language)
}

fn add_missing<'a, R: Record + 'a>(
    store: &Store,
    batch: &mut Batch,
    records: impl Iterator<Item = &'a R>,
) -> Result<(), StoreError> {
    for record in records {
        if store.get::<R>(&record.key())?.is_none() {
            batch.put(record)?;
        }
    }
    Ok(())
}
