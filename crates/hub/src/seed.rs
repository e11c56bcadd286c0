//! Seeding a store with a configuration file's programme without overwriting
//! what the hub has recorded since (states, chairs' later decisions).
//!
//! A bulletin is added with its audio: recordings and speech of bulletins
//! the store does not hold yet are ingested into the media store first, so a
//! stored bulletin always names its media. That work is CPU-bound (seconds
//! per bulletin); async callers run [`seed_programme`] on a blocking thread.

use hub_core::{AudioPart, Bulletin, ChairOrder, OptIn, Programme};
use hub_media::AudioSettings;
use hub_store::{Batch, Record, Store, StoreError};

use crate::media::ingest::{ingest_all, AudioJob, IngestError};
use crate::media::MediaStore;

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audio(#[from] IngestError),
}

/// Adds each bulletin, chair order and opt-in of `programme` that the store
/// does not hold yet, in one atomic batch; new bulletins get their `audio`
/// ingested into `media` first. Nothing is added if any audio fails.
pub fn seed_programme(
    store: &Store,
    programme: &Programme,
    audio: &[AudioJob],
    media: &MediaStore,
) -> Result<(), SeedError> {
    let mut new_bulletins: Vec<Bulletin> = Vec::new();
    for bulletin in programme.bulletins() {
        if store.get::<Bulletin>(&bulletin.key())?.is_none() {
            new_bulletins.push(bulletin.clone());
        }
    }
    let jobs: Vec<AudioJob> = audio
        .iter()
        .filter(|job| new_bulletins.iter().any(|b| b.id == job.bulletin))
        .cloned()
        .collect();
    let ingested = ingest_all(&jobs, media, &AudioSettings::default())?;
    for (job, audio) in jobs.iter().zip(ingested) {
        if let Some(part) = audio_part_of(&mut new_bulletins, job) {
            part.secs = audio.secs;
            part.media = Some(audio.media);
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

/// The audio part a job is for.
fn audio_part_of<'a>(bulletins: &'a mut [Bulletin], job: &AudioJob) -> Option<&'a mut AudioPart> {
    bulletins
        .iter_mut()
        .find(|b| b.id == job.bulletin)?
        .variants
        .iter_mut()
        .find(|v| v.language == job.language)?
        .audio
        .as_mut()
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
